// The dashboard's lists at the service: alice's acme has two jobs that failed (one after the
// other), one that went down, one late, one running, one up and one paused; globex's failure is
// not acme's business. Each list has the newest change on top.
import { expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { createTenant } from "../tenants/tenants";
import { CheckinWriter, type CheckinEvent } from "../checkins/writer";
import { Engine } from "../monitor/engine";
import { createLogger } from "../log";
import { invalid } from "../../test/thrown";
import { pauseJob, putJob } from "./jobs";
import { listJobsInStatus } from "./attention";

const NOW = Date.UTC(2026, 10, 24, 12);
const MIN = 60_000;

test("lists the tenant's jobs in the given statuses, the most recent change first, and no other tenant's", async () => {
  const db = openDb(":memory:");
  migrate(db);
  const acme = createTenant(db, { slug: "acme" }, null).id;
  const globex = createTenant(db, { slug: "globex" }, null).id;
  const job = (tenantId: string, name: string, schedule: string) => putJob(db, tenantId, "ops", name, { schedule, grace: "5m" }, NOW).job.id;
  const ids = {
    report: job(acme, "report", "@every 1d"),
    cleanup: job(acme, "cleanup", "@every 1d"),
    sync: job(acme, "sync", "@every 30m"),
    backup: job(acme, "backup", "@every 1h"),
    etl: job(acme, "etl", "@every 6h"),
    web: job(acme, "web", "@every 1d"),
    theirs: job(globex, "report", "@every 1d"),
  };
  job(acme, "archive", "@every 1d");
  pauseJob(db, acme, "ops", "archive", NOW);

  const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => NOW });
  const writer = new CheckinWriter(db);
  writer.onCommit = (rows) => engine.applyCommitted(rows);
  const send = async (tenantId: string, jobId: string, kind: CheckinEvent["kind"], at: number) => {
    const done = writer.append({ tenant_id: tenantId, job_id: jobId, last_checkin_id: null, kind, exit_code: kind === "fail" ? 1 : kind === "success" ? 0 : null, rid: null, received_at: at, started_at: null, duration_ms: null, body: null, truncated: false, source: "test" });
    writer.flush();
    await done;
  };
  await send(acme, ids.report, "fail", NOW + 1000);
  await send(acme, ids.cleanup, "fail", NOW + 3000);
  await send(acme, ids.sync, "success", NOW);
  await send(acme, ids.backup, "success", NOW + 20 * MIN);
  await send(acme, ids.etl, "start", NOW + 2000);
  await send(acme, ids.web, "success", NOW);
  await send(globex, ids.theirs, "fail", NOW + 5000);
  // Sync is down 35 minutes in; backup is late 80 minutes in, within its grace.
  engine.tick(NOW + 36 * MIN);
  engine.tick(NOW + 81 * MIN);

  const names = (statuses: Parameters<typeof listJobsInStatus>[2], limit?: number) => listJobsInStatus(db, acme, statuses, limit).map((j) => `${j.name} ${j.status}`);
  expect(names(["failed", "down"])).toEqual(["sync down", "cleanup failed", "report failed"]);
  expect(listJobsInStatus(db, acme, ["failed"]).map((j) => j.status_since)).toEqual([NOW + 3000, NOW + 1000]);
  expect(names(["late"])).toEqual(["backup late"]);
  expect(names(["running"])).toEqual(["etl running"]);
  expect(names(["failed", "down"], 1)).toEqual(["sync down"]);
  expect(names([])).toEqual([]);
  expect(listJobsInStatus(db, globex, ["failed", "down"]).map((j) => j.name)).toEqual(["report"]);
  expect(invalid(() => listJobsInStatus(db, acme, ["broken" as "up"])).message).toStartWith("status: must be one of");
});
