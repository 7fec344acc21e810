// The dashboard's counts by status, at the service: alice's acme has a job that pings, one that
// fails, one paused and one never heard from; globex's job is not acme's business.
import { expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { createTenant } from "../tenants/tenants";
import { CheckinWriter, type CheckinEvent } from "../checkins/writer";
import { Engine } from "../monitor/engine";
import { createLogger } from "../log";
import { countJobsByStatus, pauseJob, putJob } from "./jobs";

const NOW = Date.UTC(2026, 10, 24, 12);

async function checkin(writer: CheckinWriter, tenantId: string, jobId: string, kind: CheckinEvent["kind"], at: number) {
  const done = writer.append({ tenant_id: tenantId, job_id: jobId, last_checkin_id: null, kind, exit_code: kind === "fail" ? 1 : 0, rid: null, received_at: at, started_at: null, duration_ms: null, body: null, truncated: false, source: "test" });
  writer.flush();
  await done;
}

test("counts the tenant's jobs in every status, as the engine has just moved them, and no other tenant's", async () => {
  const db = openDb(":memory:");
  migrate(db);
  const acme = createTenant(db, { slug: "acme" }, null).id;
  const globex = createTenant(db, { slug: "globex" }, null).id;
  const backup = putJob(db, acme, "ops", "backup", { schedule: "@every 1h" }, NOW).job;
  const report = putJob(db, acme, "ops", "report", { schedule: "@every 1h" }, NOW).job;
  putJob(db, acme, "ops", "cleanup", { schedule: "@daily" }, NOW);
  putJob(db, acme, "ops", "archive", { schedule: "@daily" }, NOW);
  const other = putJob(db, globex, "ops", "backup", { schedule: "@every 1h" }, NOW).job;
  pauseJob(db, acme, "ops", "archive", NOW);

  const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => NOW + 2000 });
  engine.flushMs = 1e12; // counters stay in memory; only status changes are written at once
  const writer = new CheckinWriter(db);
  writer.onCommit = (rows) => engine.applyCommitted(rows);
  await checkin(writer, acme, backup.id, "success", NOW + 1000);
  await checkin(writer, acme, report.id, "fail", NOW + 1000);
  await checkin(writer, globex, other.id, "fail", NOW + 1000);

  expect(countJobsByStatus(db, acme)).toEqual({ new: 1, up: 1, running: 0, late: 0, down: 0, failed: 1, paused: 1 });
  expect(countJobsByStatus(db, globex)).toEqual({ new: 0, up: 0, running: 0, late: 0, down: 0, failed: 1, paused: 0 });
});
