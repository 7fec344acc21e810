// The engine over a real SQLite file: a crash between write-backs loses no check-in and counts
// none twice; deleted jobs' check-ins are skipped; tick cost does not grow with idle jobs.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { migrate, openDb, type Db } from "../db";
import { createUser } from "../auth/identity";
import { createTenant } from "../tenants/tenants";
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
    // Seven more applied in memory only: every read shows 17, the job row still says 10.
    expect(getJob(db, tenantId, "default", "backup").checkins_total).toBe(17);
    expect(db.query<{ n: number }, [string]>("SELECT checkins_total AS n FROM jobs WHERE id = ?").get(job.id)!.n).toBe(10);

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

  test("after retention deleted every check-in, a restarted server's new check-ins are still applied", async () => {
    const { db, tenantId } = await setup();
    const now = Date.UTC(2026, 10, 24, 12);
    const { job } = putJob(db, tenantId, "default", "quiet", { schedule: "@every 1h" }, now);
    const before = new CheckinWriter(db);
    await ping(before, tenantId, job.id, now, 5);
    engine(db, now).tick(now + 10, true);
    // Retention removes the whole log; SQLite alone would hand out ids 1..5 again.
    db.exec("DELETE FROM checkins");
    const after = new CheckinWriter(db);
    const e = engine(db, now + 20);
    await ping(after, tenantId, job.id, now + 20, 2);
    const stats = e.tick(now + 30, true);
    expect(stats.checkins).toBe(2);
    expect(getJob(db, tenantId, "default", "quiet")).toMatchObject({ checkins_total: 7, last_ping_at: now + 21 });
    const ids = db.query<{ id: number }, []>("SELECT id FROM checkins ORDER BY id").all().map((r) => r.id);
    expect(ids).toEqual([6, 7]);
  });

  test("check-ins committed before the engine started are applied before the first one handed over, and each is visible once answered", async () => {
    const { db, tenantId } = await setup();
    const now = Date.UTC(2026, 10, 24, 12);
    const { job } = putJob(db, tenantId, "default", "mixed", { schedule: "@every 1h" }, now);
    // Written before this engine existed: only in the log.
    await ping(new CheckinWriter(db), tenantId, job.id, now, 3);
    const writer = new CheckinWriter(db);
    const e = engine(db, now);
    writer.onCommit = (rows) => e.applyCommitted(rows);
    await ping(writer, tenantId, job.id, now + 100, 4);
    // Answered: the three from the log and the four new ones are all applied, without a tick.
    expect(getJob(db, tenantId, "default", "mixed")).toMatchObject({ checkins_total: 7, last_ping_at: now + 103, status: "up" });
    expect(e.tick(now + 200).checkins).toBe(0);
    await ping(writer, tenantId, job.id, now + 400, 2);
    expect(getJob(db, tenantId, "default", "mixed")).toMatchObject({ checkins_total: 9, last_ping_at: now + 401 });
    e.tick(now + 500, true);
    const row = db.query<{ checkins_total: number; last_checkin_id: number }, [string]>("SELECT checkins_total, last_checkin_id FROM jobs WHERE id = ?").get(job.id)!;
    expect(row).toEqual({ checkins_total: 9, last_checkin_id: 9 });
  });

  test("changed jobs are written back in a sweep that goes round the table once per flush interval", async () => {
    const { db, tenantId } = await setup();
    const now = Date.UTC(2026, 10, 24, 12);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(putJob(db, tenantId, "default", `j-${i}`, { schedule: "@every 1h" }, now).job.id);
    const writer = new CheckinWriter(db);
    const e = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => now });
    e.flushMs = 1000;
    writer.onCommit = (rows) => e.applyCommitted(rows);
    // First check-ins flip every job new -> up: written at once.
    for (const id of ids) await ping(writer, tenantId, id, now, 1);
    e.tick(now);
    // Second ones change only counters: written by the sweep.
    for (const id of ids) await ping(writer, tenantId, id, now + 10, 1);
    const saved = () => db.query<{ n: number }, []>("SELECT count(*) AS n FROM jobs WHERE checkins_total = 2").get()!.n;
    e.tick(now + 10);
    const counts: number[] = [];
    for (let t = 110; t <= 1010; t += 100) {
      e.tick(now + t);
      counts.push(saved());
    }
    // A tenth of the table per 100 ms tick, in order; all of it within one interval.
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[0]).toBeLessThan(100);
    expect(counts.slice(1).every((n, i) => n >= counts[i]!)).toBe(true);
    expect(counts.at(-1)).toBe(200);
  });

  test("a job whose rowid moved (as VACUUM may do) is still written back, to the right row", async () => {
    const { db, tenantId } = await setup();
    const now = Date.UTC(2026, 10, 24, 12);
    const a = putJob(db, tenantId, "default", "a", { schedule: "@every 1h" }, now).job.id;
    const b = putJob(db, tenantId, "default", "b", { schedule: "@every 1h" }, now).job.id;
    const writer = new CheckinWriter(db);
    const e = engine(db, now);
    writer.onCommit = (rows) => e.applyCommitted(rows);
    await ping(writer, tenantId, a, now, 1);
    await ping(writer, tenantId, b, now, 1);
    e.tick(now + 10);
    await ping(writer, tenantId, a, now + 20, 3);
    e.tick(now + 30); // held in memory, not written back
    // a moves to a new rowid, and b takes a's old one.
    const rowid = (id: string) => db.query<{ r: number }, [string]>("SELECT rowid AS r FROM jobs WHERE id = ?").get(id)!.r;
    const [ra, rb] = [rowid(a), rowid(b)];
    db.query("UPDATE jobs SET rowid = 1000 WHERE id = ?").run(a);
    db.query("UPDATE jobs SET rowid = ? WHERE id = ?").run(ra, b);
    expect([rowid(a), rowid(b)]).toEqual([1000, ra]);
    expect(rb).not.toBe(ra);
    e.tick(now + 40, true);
    expect(getJob(db, tenantId, "default", "a").checkins_total).toBe(4);
    expect(getJob(db, tenantId, "default", "b").checkins_total).toBe(1);
  });

  test("when a schedule's fire time makes a thousand jobs due at once, each pass fires a bounded share and asks for the next at once", async () => {
    const { db, tenantId } = await setup();
    const now = Date.UTC(2026, 11, 7, 12, 3);
    const ids: string[] = [];
    for (let i = 0; i < 1200; i++) ids.push(putJob(db, tenantId, "default", `j-${i}`, { schedule: "*/5 * * * *", grace: "1h" }, now).job.id);
    const writer = new CheckinWriter(db);
    const e = engine(db, now);
    writer.onCommit = (rows) => e.applyCommitted(rows);
    // All up, all expected at 12:05, held in memory (the counters not written back yet).
    for (const id of ids) await ping(writer, tenantId, id, now, 1);
    e.tick(now);
    const late = () => db.query<{ n: number }, []>("SELECT count(*) AS n FROM jobs WHERE status = 'late'").get()!.n;
    const fireTime = Date.UTC(2026, 11, 7, 12, 5) + 1;
    const first = e.tick(fireTime);
    // One pass held every request up while it flipped them all (114 ms for 10,000 jobs).
    expect(first.deadlines).toBeLessThanOrEqual(500);
    expect(first.behind).toBe(true);
    let passes = 1;
    for (let more = true; more && passes < 10; passes++) more = e.tick(fireTime).behind;
    expect({ late: late(), passes }).toEqual({ late: 1200, passes: 3 });
  });
  test("a check-in that brings its job's head is applied to the state the engine holds now, also after held state was forgotten", async () => {
    const { db, tenantId } = await setup();
    const now = Date.UTC(2026, 11, 7, 12);
    const { job } = putJob(db, tenantId, "default", "backup", { schedule: "@every 1h" }, now);
    const writer = new CheckinWriter(db);
    const eng = engine(db, now + 10_000);
    writer.onCommit = (rows) => eng.applyCommitted(rows);
    // As the ping lookup does: the job's head is kept and passed with each check-in.
    const head = writer.headOf(job.id);
    const send = (at: number) =>
      writer.append({ tenant_id: tenantId, job_id: job.id, last_checkin_id: null, kind: "success", exit_code: 0, rid: null, received_at: at, started_at: null, duration_ms: null, body: null, truncated: false, source: "test", head });
    await Promise.all([send(now + 1000), send(now + 1001), send(now + 1002)]);
    expect(head.held).not.toBeNull();
    expect(getJob(db, tenantId, "default", "backup").checkins_total).toBe(3);
    // All written back (nothing to replay), then a rolled-back change makes the engine forget
    // what it holds: the state the head keeps is stale now.
    eng.tick(now + 15_000, true);
    eng.recover();
    await Promise.all([send(now + 2000), send(now + 2001)]);
    expect(getJob(db, tenantId, "default", "backup")).toMatchObject({ checkins_total: 5, last_ping_at: now + 2001 });
    eng.tick(now + 20_000, true);
    expect(db.query<{ n: number }, [string]>("SELECT checkins_total AS n FROM jobs WHERE id = ?").get(job.id)!.n).toBe(5);
  });
});
