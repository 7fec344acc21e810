// The log as the writer leaves it: every form of check-in stored as given, whichever statement
// wrote it (the common forms have their constant columns in the statement), with ids in
// arrival order and each job's rows chained in that order.
import { expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { createTenant } from "../tenants/tenants";
import { putJob } from "../jobs/jobs";
import { CheckinWriter, type CheckinEvent } from "./writer";

const NOW = Date.UTC(2026, 11, 7, 12);

test("a batch of every form of check-in is stored as given, ids in arrival order, each job's rows chained", async () => {
  const db = openDb(":memory:");
  migrate(db);
  const tenant = createTenant(db, { slug: "acme" }, null).id;
  const jobs = ["a", "b", "c"].map((name) => putJob(db, tenant, "default", name, { schedule: "@hourly" }, NOW).job);
  const base = (i: number): CheckinEvent => ({
    tenant_id: tenant,
    job_id: jobs[i % 3]!.id,
    last_checkin_id: null,
    kind: "success",
    exit_code: 0,
    rid: null,
    received_at: NOW + i,
    started_at: null,
    duration_ms: null,
    body: `output ${i}`,
    truncated: false,
    source: `ping from 10.0.0.${i}`,
  });
  const forms: Partial<CheckinEvent>[] = [
    {},
    { kind: "start", exit_code: null },
    { kind: "fail", exit_code: null, body: null },
    { kind: "log", exit_code: null },
    { kind: "fail", exit_code: 3 },
    { kind: "success", exit_code: null },
    { kind: "fail", exit_code: null, timed_out: true },
    { rid: "4b0a1c9e-8f7d-4e3a-9c2b-1d0e5f6a7b8c", kind: "start", exit_code: null },
    { started_at: NOW - 5000, duration_ms: 4000 },
    { truncated: true, body: "head…tail" },
    { source: null, body: "" },
  ];
  // More rows than one statement takes (32), so every chunk size and both kinds of statement are used.
  const writer = new CheckinWriter(db);
  // Two in five keep their job's head (as the ping lookup does); the rest have it looked up: one chain either way.
  const events = Array.from({ length: 80 }, (_, i) => ({ ...base(i), ...forms[i % forms.length], ...(i % 5 < 2 ? { head: writer.headOf(jobs[i % 3]!.id) } : {}) }));
  await Promise.all(events.map((e) => writer.append(e)));

  const rows = db.query<Record<string, unknown>, []>("SELECT * FROM checkins ORDER BY id").all();
  expect(rows.length).toBe(events.length);
  const status = (e: CheckinEvent) => (e.timed_out ? "timeout" : { start: "running", success: "success", fail: "failed", log: "log" }[e.kind]);
  const lastOf = new Map<string, number>();
  rows.forEach((r, i) => {
    const e = events[i]!;
    expect(r).toMatchObject({
      id: i + 1,
      tenant_id: e.tenant_id,
      job_id: e.job_id,
      kind: e.kind,
      status: status(e),
      exit_code: e.exit_code,
      rid: e.rid,
      received_at: e.received_at,
      started_at: e.started_at,
      duration_ms: e.duration_ms,
      body: e.body,
      truncated: e.truncated ? 1 : 0,
      source: e.source,
      prev_id: lastOf.get(e.job_id) ?? null,
    });
    lastOf.set(e.job_id, i + 1);
  });

  // The next batch goes on from each job's newest row.
  await writer.append({ ...base(0), received_at: NOW + 100 });
  expect(db.query<{ prev_id: number }, []>("SELECT prev_id FROM checkins ORDER BY id DESC LIMIT 1").get()!.prev_id).toBe(lastOf.get(jobs[0]!.id)!);
});

test("a batch that is not stored leaves each job's chain where it was: the next rows link to the last stored ones", async () => {
  const db = openDb(":memory:");
  migrate(db);
  const tenant = createTenant(db, { slug: "acme" }, null).id;
  const [a, b] = ["a", "b"].map((name) => putJob(db, tenant, "default", name, { schedule: "@hourly" }, NOW).job);
  const event = (jobId: string, at: number): CheckinEvent => ({
    tenant_id: tenant, job_id: jobId, last_checkin_id: null, kind: "success", exit_code: 0, rid: null,
    received_at: at, started_at: null, duration_ms: null, body: null, truncated: false, source: "test",
  });
  const writer = new CheckinWriter(db);
  await writer.append(event(a!.id, NOW));
  // A database that refuses writes (as a full disk does): the batch fails as a whole.
  db.exec("PRAGMA query_only = 1");
  const failed = [writer.append(event(a!.id, NOW + 1)), writer.append({ ...event(b!.id, NOW + 2), head: writer.headOf(b!.id) }), writer.append({ ...event(a!.id, NOW + 3), head: writer.headOf(a!.id) })];
  expect((await Promise.allSettled(failed)).map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
  db.exec("PRAGMA query_only = 0");
  await Promise.all([writer.append(event(b!.id, NOW + 4)), writer.append({ ...event(a!.id, NOW + 5), head: writer.headOf(a!.id) })]);
  const rows = db.query<{ id: number; job_id: string; prev_id: number | null }, []>("SELECT id, job_id, prev_id FROM checkins ORDER BY id").all();
  expect(rows).toEqual([
    { id: 1, job_id: a!.id, prev_id: null },
    { id: 2, job_id: b!.id, prev_id: null },
    { id: 3, job_id: a!.id, prev_id: 1 },
  ]);
});
