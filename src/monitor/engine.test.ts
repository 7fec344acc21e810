// The engine over a real SQLite file: a crash between write-backs loses no check-in and counts
// none twice; deleted jobs' check-ins are skipped; tick cost does not grow with idle jobs.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { migrate, openDb, type Db } from "../db";
import { createTenant, createUser } from "../auth/identity";
import { deleteJob, getJob, putJob } from "../jobs/jobs";
import { CheckinWriter, type CheckinEvent } from "../checkins/writer";
import { createLogger } from "../log";
import { tempDir } from "../../test/helpers";
import { Engine } from "./engine";

async function setup() {
  const db = openDb(join(tempDir(), "crontopus.db"));
  migrate(db);
  const user = await createUser(db, { email: "alice@example.com", password: "correct horse battery" });
  const tenant = createTenant(db, { slug: "acme" }, user.id);
  return { db, tenantId: tenant.id };
}

function engine(db: Db, now: number) {
  const e = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => now });
  e.flushMs = 1e12; // only status changes are written back at once
  return e;
}

async function ping(writer: CheckinWriter, tenantId: string, jobId: string, at: number, n: number, kind: CheckinEvent["kind"] = "success") {
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    all.push(
      writer.append({ tenant_id: tenantId, job_id: jobId, last_checkin_id: null, kind, exit_code: kind === "success" ? 0 : null, rid: null, received_at: at + i, started_at: null, duration_ms: null, body: null, truncated: false, source: "test" }),
    );
  }
  writer.flush();
  await Promise.all(all);
}

describe("engine", () => {
  test("after a crash between write-backs, the log is applied again without counting anything twice", async () => {
    const { db, tenantId } = await setup();
    const now = Date.UTC(2026, 10, 24, 12);
    const { job } = putJob(db, tenantId, "default", "backup", { schedule: "@every 1h" }, now);
    const writer = new CheckinWriter(db);
    await ping(writer, tenantId, job.id, now + 1000, 10);
    const first = engine(db, now + 2000);
    first.tick();
    // The first success flipped new -> up and was written back at once.
    expect(getJob(db, tenantId, "default", "backup")).toMatchObject({ status: "up", checkins_total: 10 });
    await ping(writer, tenantId, job.id, now + 3000, 7);
    first.tick(now + 4000);
    // Seven more applied in memory only: the database still says 10.
    expect(getJob(db, tenantId, "default", "backup").checkins_total).toBe(10);

    // Crash: the first engine is gone without writing back. A new one starts on the same file.
    const second = engine(db, now + 5000);
    second.tick(now + 5000, true);
    const after = getJob(db, tenantId, "default", "backup");
    expect(after.checkins_total).toBe(17);
    expect(after.last_ping_at).toBe(now + 3006);
    const head = db.query<{ id: number }, []>("SELECT max(id) AS id FROM checkins").get()!.id;
    expect(after.last_checkin_id).toBe(head);
  });

  test("a job written by the API in between sees the engine's state and is not overwritten by it", async () => {
    const { db, tenantId } = await setup();
    const now = Date.UTC(2026, 10, 24, 12);
    const { job } = putJob(db, tenantId, "default", "sync", { schedule: "@every 1h" }, now);
    const writer = new CheckinWriter(db);
    const e = engine(db, now);
    await ping(writer, tenantId, job.id, now + 1000, 1);
    e.tick(now + 1000);
    await ping(writer, tenantId, job.id, now + 2000, 4);
    e.tick(now + 2000);
    // PATCH-like write through the service: it must see 5 check-ins, and keep its new grace.
    putJob(db, tenantId, "default", "sync", { schedule: "@every 1h", grace: 60 }, now + 2500);
    e.tick(now + 3000, true);
    expect(getJob(db, tenantId, "default", "sync")).toMatchObject({ checkins_total: 5, grace_s: 60 });
  });

  test("check-ins of a job deleted before they were applied are skipped", async () => {
    const { db, tenantId } = await setup();
    const now = Date.now();
    const { job } = putJob(db, tenantId, "default", "gone", { schedule: "@every 1h" }, now);
    const writer = new CheckinWriter(db);
    await ping(writer, tenantId, job.id, now, 3);
    deleteJob(db, tenantId, "default", "gone");
    const stats = engine(db, now).tick(now + 10);
    expect(stats.checkins).toBe(0);
    expect(stats.flips).toBe(0);
  });
});
