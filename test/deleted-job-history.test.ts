// A deleted job's check-ins and their output go, in slices in the background, as docs/api.md
// promises; alice's other job keeps its history.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";
import { migrate, openDb } from "../src/db";
import { MIGRATIONS } from "../src/migrations";
import { createUser } from "../src/auth/identity";
import { createTenant } from "../src/tenants/tenants";
import { putJob } from "../src/jobs/jobs";
import { CheckinWriter } from "../src/checkins/writer";
import { Engine } from "../src/monitor/engine";
import { createLogger } from "../src/log";
import { purgeSlice } from "../src/runs/runs";

let s: TestServer;
let alice: Persona;

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme");
});
afterAll(() => s.close());

const count = (db: { query: TestServer["db"]["query"] }, jobId: string) =>
  db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM checkins WHERE job_id = ?").get(jobId)!.n;

async function jobWithPings(name: string, pings: number) {
  const r = (await (await s.api("/api/v1/jobs", { method: "POST", token: alice.token, json: { name, schedule: "@every 1h" } })).json()) as { id: string; ping_url: string };
  for (let i = 0; i < pings; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, pings - i) }, (_, k) => fetch(r.ping_url, { method: "POST", body: `output of run ${i + k}` })));
  }
  return r.id;
}

describe("deleting a job", () => {
  test("its check-ins and their output go in the background, and no other job's", async () => {
    const doomed = await jobWithPings("doomed", 450);
    const kept = await jobWithPings("kept", 30);
    expect(count(s.db, doomed)).toBe(450);
    expect((await s.api("/api/v1/jobs/default/doomed", { method: "DELETE", token: alice.token })).status).toBe(204);
    const until = Date.now() + 30_000;
    while (count(s.db, doomed) > 0 && Date.now() < until) await Bun.sleep(50);
    expect(count(s.db, doomed)).toBe(0);
    expect(count(s.db, kept)).toBe(30);
    expect(s.db.query("SELECT count(*) AS n FROM deleted_jobs").get()).toEqual({ n: 0 });
  });
});

describe("purgeSlice", () => {
  test("deletes at most a slice per step, and the check-ins of jobs deleted before migration 0006 too", async () => {
    const db = openDb(join(tempDir(), "crontopus.db"));
    migrate(db, MIGRATIONS.filter((m) => m.version < 6));
    const user = await createUser(db, { email: "alice@example.com", password: "correct horse battery" });
    const acme = createTenant(db, { slug: "acme" }, user.id).id;
    const now = Date.now();
    const old = putJob(db, acme, "default", "old", { schedule: "@every 1h" }, now).job.id;
    const other = putJob(db, acme, "default", "other", { schedule: "@every 1h" }, now).job.id;
    const writer = new CheckinWriter(db);
    const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => now });
    writer.onCommit = (rows) => engine.applyCommitted(rows);
    const sent = [];
    for (let i = 0; i < 500; i++) {
      const jobId = i % 5 === 0 ? other : old;
      sent.push(writer.append({ tenant_id: acme, job_id: jobId, last_checkin_id: null, kind: "success", exit_code: 0, rid: null, received_at: now + i, started_at: null, duration_ms: null, body: "x".repeat(100), truncated: false, source: "test" }));
    }
    writer.flush();
    await Promise.all(sent);
    engine.tick(now + 1000, true);
    // What today's deleteJob does: the row goes, its check-ins stay.
    db.query("DELETE FROM jobs WHERE id = ?").run(old);
    migrate(db);
    expect(count(db, old)).toBe(400);
    expect(purgeSlice(db, 150)).toBe(150);
    expect(count(db, old)).toBe(250);
    while (purgeSlice(db, 150) > 0);
    expect(count(db, old)).toBe(0);
    expect(count(db, other)).toBe(100);
    db.close();
  });
});
