// Run history over a real SQLite file: a tenant's runs are its jobs' chains merged newest first,
// paged without gaps or repeats (also far down, past the walking budget); retention deletes
// what each tenant's policy says and nothing else.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { migrate, openDb, type Db } from "../db";
import { createUser } from "../auth/identity";
import { createTenant } from "../tenants/tenants";
import { putJob } from "../jobs/jobs";
import { CheckinWriter, type CheckinEvent } from "../checkins/writer";
import { Engine } from "../monitor/engine";
import { createLogger } from "../log";
import { tempDir } from "../../test/helpers";
import { listRuns } from "./runs";
import { LOG_STEP_ROWS, pruneHistory, Pruner, type PruneResult } from "./retention";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1);

async function setup() {
  const db = openDb(join(tempDir(), "crontopus.db"));
  migrate(db);
  const user = await createUser(db, { email: "alice@example.com", password: "correct horse battery" });
  const acme = createTenant(db, { slug: "acme" }, user.id).id;
  const other = createTenant(db, { slug: "other" }, user.id).id;
  const writer = new CheckinWriter(db);
  const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => T0 });
  writer.onCommit = (rows) => engine.applyCommitted(rows);
  return { db, acme, other, writer, engine };
}

function job(db: Db, tenantId: string, name: string): string {
  return putJob(db, tenantId, "default", name, { schedule: "@every 1h" }, T0).job.id;
}

/** Appends check-ins (job id, time) in this order, in one commit. */
async function send(writer: CheckinWriter, tenantId: string, list: [string, number][], kind: CheckinEvent["kind"] = "success") {
  const done = list.map(([jobId, at]) =>
    writer.append({ tenant_id: tenantId, job_id: jobId, last_checkin_id: null, kind, exit_code: kind === "success" ? 0 : null, rid: null, received_at: at, started_at: null, duration_ms: null, body: null, truncated: false, source: "test" }),
  );
  writer.flush();
  await Promise.all(done);
}

function allPages(db: Db, tenantId: string, limit: number, jobId?: string): number[] {
  const ids: number[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = listRuns(db, tenantId, { limit, cursor, jobId });
    ids.push(...page.runs.map((r) => r.id));
    if (!page.next_cursor) return ids;
    cursor = page.next_cursor;
  }
  throw new Error("pages never ended");
}

describe("run history", () => {
  test("a tenant's runs are its jobs' check-ins newest first, paged without gaps or repeats, and no other tenant's", async () => {
    const { db, acme, other, writer, engine } = await setup();
    const a = job(db, acme, "a");
    const b = job(db, acme, "b");
    const c = job(db, acme, "c");
    const x = job(db, other, "x");
    const order: [string, number][] = [];
    for (let i = 0; i < 40; i++) order.push([[a, b, a, c, b][i % 5]!, T0 + i * 1000]);
    await send(writer, acme, order);
    await send(writer, other, [[x, T0], [x, T0 + 1]]);
    engine.tick(T0 + 60_000);
    const expected = db.query<{ id: number }, [string]>("SELECT id FROM checkins WHERE tenant_id = ? ORDER BY id DESC").all(acme).map((r) => r.id);
    expect(expected).toHaveLength(40);
    expect(listRuns(db, acme, { limit: 5 }).runs.map((r) => r.job.name)).toEqual(["b", "c", "a", "b", "a"]);
    for (const limit of [1, 7, 40, 100]) expect(allPages(db, acme, limit)).toEqual(expected);
    expect(allPages(db, other, 10)).toHaveLength(2);
  });

  test("a cursor or a job id from another tenant reads none of that tenant's runs", async () => {
    const { db, acme, other, writer, engine } = await setup();
    const a = job(db, acme, "a");
    const x = job(db, other, "x");
    await send(writer, other, [[x, T0], [x, T0 + 1], [x, T0 + 2]]);
    await send(writer, acme, [[a, T0 + 3]]);
    engine.tick(T0 + 60_000);
    const theirs = db.query<{ id: number }, [string]>("SELECT id FROM checkins WHERE tenant_id = ? ORDER BY id DESC").get(other)!.id;
    // Acme's job walked from a cursor on the other tenant's chain stops at once.
    expect(listRuns(db, acme, { jobId: a, cursor: String(theirs) }).runs).toEqual([]);
    // The other tenant's job named by acme: nothing, not even from its own head.
    expect(listRuns(db, acme, { jobId: x }).runs).toEqual([]);
    expect(listRuns(db, acme, { jobId: x, cursor: String(theirs) }).runs).toEqual([]);
    expect(listRuns(db, acme, { cursor: String(theirs + 1) }).runs.map((r) => r.job.name)).toEqual(["a"]);
  });

  test("far down the history, past what one request walks, pages still cover every run once", async () => {
    const { db, acme, writer, engine } = await setup();
    const jobs = [job(db, acme, "one"), job(db, acme, "two"), job(db, acme, "three")];
    for (let batch = 0; batch < 14; batch++) {
      await send(writer, acme, Array.from({ length: 500 }, (_, i) => [jobs[(batch + i) % 3]!, T0 + batch * 500 + i] as [string, number]));
    }
    engine.tick(T0 + DAY);
    const ids = allPages(db, acme, 250);
    expect(ids).toHaveLength(7000);
    expect(new Set(ids).size).toBe(7000);
    expect(ids).toEqual([...ids].sort((p, q) => q - p));
  });

  test("a job's runs include what the engine applied before it wrote the job row back", async () => {
    const { db, acme, writer, engine } = await setup();
    const a = job(db, acme, "a");
    await send(writer, acme, [[a, T0]]);
    engine.tick(T0 + 10); // new -> up: written back at once
    await send(writer, acme, [[a, T0 + 20], [a, T0 + 30]]);
    engine.tick(T0 + 40); // counters only: not written back yet
    expect(db.query<{ n: number }, [string]>("SELECT checkins_total AS n FROM jobs WHERE id = ?").get(a)!.n).toBe(1);
    expect(listRuns(db, acme, { jobId: a }).runs).toHaveLength(3);
    expect(listRuns(db, acme, {}).runs).toHaveLength(3);
  });

  test("retention deletes each tenant's check-ins past its own retention, keeps running starts, and drops those of deleted tenants", async () => {
    const { db, acme, other, writer, engine } = await setup();
    db.query("UPDATE tenants SET retention_days = 7 WHERE id = ?").run(acme);
    db.query("UPDATE tenants SET retention_days = 30 WHERE id = ?").run(other);
    const a = job(db, acme, "a");
    const x = job(db, other, "x");
    const now = T0 + 40 * DAY;
    // A tenant that is gone: its rows go once they are past the shortest retention.
    const gone = createTenant(db, { slug: "gone" }, db.query<{ id: string }, []>("SELECT id FROM users").get()!.id).id;
    const g = job(db, gone, "g");
    await send(writer, gone, [[g, now - 10 * DAY]]);
    // Interleaved through the log: a day apart, from 40 days ago to today.
    for (let d = 40; d >= 0; d--) {
      await send(writer, acme, [[a, now - d * DAY]]);
      await send(writer, other, [[x, now - d * DAY + 1]]);
    }
    const aStart = job(db, acme, "long");
    await send(writer, acme, [[aStart, now - 20 * DAY]], "start");
    engine.tick(now, true);
    db.query("DELETE FROM jobs WHERE tenant_id = ?").run(gone);
    db.query("DELETE FROM namespaces WHERE tenant_id = ?").run(gone);
    db.query("DELETE FROM memberships WHERE tenant_id = ?").run(gone);
    db.query("DELETE FROM tenants WHERE id = ?").run(gone);

    const pruned = pruneHistory(db, now);
    const left = (t: string) => db.query<{ received_at: number; status: string }, [string]>("SELECT received_at, status FROM checkins WHERE tenant_id = ? ORDER BY id").all(t);
    const acmeLeft = left(acme);
    expect(acmeLeft.filter((r) => r.status !== "running").map((r) => Math.round((now - r.received_at) / DAY) + 0)).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
    expect(acmeLeft.filter((r) => r.status === "running")).toHaveLength(1);
    expect(left(other).map((r) => Math.round((now - r.received_at) / DAY) + 0)).toEqual(Array.from({ length: 31 }, (_, i) => 30 - i));
    expect(left(gone)).toHaveLength(0);
    expect(pruned.checkins).toBe(33 + 10 + 1);
    // A second pass finds nothing more, and new check-ins still arrive and apply.
    expect(pruneHistory(db, now).checkins).toBe(0);
    const applied = engine.totals.checkins;
    await send(writer, acme, [[a, now + 1]]);
    expect(engine.totals.checkins - applied).toBe(1);
  });

  test("old flips and sent notifications go a step at a time, each tenant by its own retention; pending ones and newer ones stay", async () => {
    const { db, acme, other } = await setup();
    db.query("UPDATE tenants SET retention_days = 1 WHERE id = ?").run(acme);
    db.query("UPDATE tenants SET retention_days = 30 WHERE id = ?").run(other);
    const a = job(db, acme, "a");
    const o = job(db, other, "o");
    const now = T0 + 3 * DAY;
    const flip = db.query("INSERT INTO flips (tenant_id, job_id, from_status, to_status, reason, created_at) VALUES (?, ?, 'up', 'late', 'test', ?)");
    db.transaction(() => {
      // 1,200 of acme's past its day, interleaved with other's (which keeps 30 days), then newer ones.
      for (let i = 0; i < 1200; i++) {
        flip.run(acme, a, T0 + i);
        if (i % 10 === 0) flip.run(other, o, T0 + i);
      }
      for (let i = 0; i < 50; i++) flip.run(acme, a, now - 1000 + i);
      db.query("INSERT INTO channels (id, tenant_id, name, type, config, created_at, updated_at) VALUES ('c1', ?, 'hook', 'webhook', '{}', ?, ?)").run(acme, T0, T0);
      const note = db.query("INSERT INTO notifications (tenant_id, channel_id, event, dedup_key, payload, status, next_attempt_at, created_at) VALUES (?, 'c1', 'trigger', ?, '{}', ?, ?, ?)");
      for (let i = 0; i < 20; i++) note.run(acme, `n${i}`, i < 15 ? "sent" : "pending", T0 + 2000 + i, T0 + 2000 + i);
    })();
    const flips = (tenant: string) => db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM flips WHERE tenant_id = ?").get(tenant)!.n;
    const notes = () => db.query<{ status: string; n: number }, []>("SELECT status, count(*) AS n FROM notifications GROUP BY status ORDER BY status").all();
    // A step looks at LOG_STEP_ROWS rows at most (one DELETE per tenant read the whole table each).
    expect(pruneHistory(db, now, 0).flips).toBeLessThanOrEqual(LOG_STEP_ROWS);
    for (let i = 0; i < 20; i++) pruneHistory(db, now, 0);
    expect({ acme: flips(acme), other: flips(other), notes: notes() }).toEqual({ acme: 50, other: 120, notes: [{ status: "pending", n: 5 }] });
  });

  test("retention cut short by its budget goes on where it stopped", async () => {
    const { db, acme, writer, engine } = await setup();
    db.query("UPDATE tenants SET retention_days = 1 WHERE id = ?").run(acme);
    const a = job(db, acme, "a");
    for (let i = 0; i < 5; i++) await send(writer, acme, Array.from({ length: 1000 }, (_, k) => [a, T0 + i * 1000 + k] as [string, number]));
    engine.tick(T0, true);
    const count = () => db.query<{ n: number }, []>("SELECT count(*) AS n FROM checkins").get()!.n;
    // A budget of nothing still does one step (LOG_STEP_ROWS rows) per pass.
    expect(pruneHistory(db, T0 + 3 * DAY, 0).checkins).toBe(LOG_STEP_ROWS);
    expect(count()).toBe(5000 - LOG_STEP_ROWS);
    let passes = 1;
    while (count() > 0 && passes < 100) {
      pruneHistory(db, T0 + 3 * DAY, 0);
      passes++;
    }
    expect(count()).toBe(0);
    expect(passes).toBe(Math.ceil(5000 / LOG_STEP_ROWS));
  });
});

describe("retention in the server", () => {
  test("a pass over a large backlog goes on in slices until done, and the server's other work runs between them", async () => {
    const { db, acme, writer, engine } = await setup();
    db.query("UPDATE tenants SET retention_days = 1 WHERE id = ?").run(acme);
    const a = job(db, acme, "a");
    for (let i = 0; i < 5; i++) await send(writer, acme, Array.from({ length: 1000 }, (_, k) => [a, T0 + i * 1000 + k] as [string, number]));
    await send(writer, acme, [[a, T0 + 3 * DAY]]);
    engine.tick(T0 + 3 * DAY, true);
    // Other work on the event loop (a request, a tick): counted while the pass runs.
    let between = 0;
    const other = setInterval(() => between++, 0);
    const pruner = new Pruner(db, () => T0 + 3 * DAY, { firstMs: 0, sliceMs: 0, gapMs: 1 });
    const done = new Promise<PruneResult>((resolve) => (pruner.onPass = (r) => resolve(r)));
    const result = await done;
    clearInterval(other);
    pruner.stop();
    // One step (LOG_STEP_ROWS rows) per slice, the event loop free between each.
    expect(result.checkins).toBe(5000);
    expect(between).toBeGreaterThanOrEqual(4);
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM checkins").get()!.n).toBe(1);
  }, 30_000);
});

test("a busy job's runs beyond retention_runs go in short steps, and its newest runs stay listed", async () => {
  const { db, acme, writer, engine } = await setup();
  db.query("UPDATE tenants SET retention_runs = 10 WHERE id = ?").run(acme);
  const a = job(db, acme, "a");
  for (let i = 0; i < 3; i++) await send(writer, acme, Array.from({ length: 1000 }, (_, k) => [a, T0 + i * 1000 + k] as [string, number]));
  engine.tick(T0 + 4000, true);
  let between = 0;
  const other = setInterval(() => between++, 0);
  const pruner = new Pruner(db, () => T0 + 4000, { firstMs: 0, sliceMs: 0, gapMs: 1 });
  const result = await new Promise<PruneResult>((resolve) => (pruner.onPass = (r) => resolve(r)));
  clearInterval(other);
  pruner.stop();
  expect(result.checkins).toBe(2990);
  // The other work ran while the tail went, not only before and after it.
  expect(between).toBeGreaterThanOrEqual(3);
  const page = listRuns(db, acme, { jobId: a, limit: 500 });
  expect(page.runs).toHaveLength(10);
  expect(page.next_cursor).toBeNull();
}, 30_000);
