// Runs of one namespace (the console's runs filter): alice's acme runs jobs in ops and web, in
// turns; globex has an ops namespace too. A namespace's runs are its jobs' runs, newest first,
// paged without gaps or repeats, also below a cursor far down the log, and never another tenant's.
import { expect, test } from "bun:test";
import { migrate, openDb, type Db } from "../db";
import { createTenant } from "../tenants/tenants";
import { putJob } from "../jobs/jobs";
import { CheckinWriter } from "../checkins/writer";
import { Engine } from "../monitor/engine";
import { createLogger } from "../log";
import { listRuns, type RunFilter } from "./runs";

const T0 = Date.UTC(2026, 10, 1);

function allPages(db: Db, tenantId: string, f: RunFilter): string[] {
  const out: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = listRuns(db, tenantId, { ...f, cursor });
    out.push(...page.runs.map((r) => `${r.job.namespace}/${r.job.name}#${r.id}`));
    if (!page.next_cursor) return out;
    cursor = page.next_cursor;
  }
  throw new Error("pages never ended");
}

test("a namespace's runs are its jobs' runs newest first, on every page, and no other tenant's", async () => {
  const db = openDb(":memory:");
  migrate(db);
  const acme = createTenant(db, { slug: "acme" }, null).id;
  const globex = createTenant(db, { slug: "globex" }, null).id;
  const jobs = [putJob(db, acme, "ops", "backup", { schedule: "@every 1h" }, T0).job, putJob(db, acme, "web", "deploy", { schedule: "@every 1h" }, T0).job, putJob(db, acme, "ops", "report", { schedule: "@every 1h" }, T0).job];
  const theirs = putJob(db, globex, "ops", "backup", { schedule: "@every 1h" }, T0).job;
  const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => T0 });
  const writer = new CheckinWriter(db);
  writer.onCommit = (rows) => engine.applyCommitted(rows);
  const done: Promise<void>[] = [];
  for (let i = 0; i < 300; i++) {
    const job = i % 7 === 6 ? theirs : jobs[i % 3]!;
    const kind = i % 5 === 0 ? "fail" : "success";
    done.push(writer.append({ tenant_id: job.tenant_id, job_id: job.id, last_checkin_id: null, kind, exit_code: kind === "fail" ? 1 : 0, rid: null, received_at: T0 + i * 1000, started_at: null, duration_ms: null, body: null, truncated: false, source: "test" }));
  }
  writer.flush();
  await Promise.all(done);

  const everything = allPages(db, acme, { limit: 500 });
  const ops = everything.filter((r) => r.startsWith("ops/"));
  expect(ops.length).toBeGreaterThan(150);
  for (const limit of [1, 7, 50, 500]) expect(allPages(db, acme, { namespace: "ops", limit })).toEqual(ops);
  expect(allPages(db, acme, { namespace: "web", limit: 9 })).toEqual(everything.filter((r) => r.startsWith("web/")));
  // With the status filter too.
  const failedOps = allPages(db, acme, { namespace: "ops", status: "failed", limit: 500 });
  expect(failedOps.length).toBeGreaterThan(10);
  expect(failedOps).toEqual(allPages(db, acme, { status: "failed", limit: 500 }).filter((r) => r.startsWith("ops/")));
  expect(allPages(db, acme, { namespace: "nope", limit: 10 })).toEqual([]);
  // Globex's ops is globex's.
  expect(new Set(allPages(db, globex, { namespace: "ops", limit: 13 }).map((r) => r.split("#")[0]))).toEqual(new Set(["ops/backup"]));
  expect(allPages(db, globex, { namespace: "ops", limit: 500 }).some((r) => ops.includes(r))).toBe(false);
});
