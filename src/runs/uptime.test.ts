// Uptime per month from the flips the real engine writes: alice's monthly backup in acme comes up
// on 1 October, fails for six hours on the 10th, is two hours down on 1 November; months are the
// job's own calendar months; what no flip records (a pause and a resume) is not known rather than
// guessed; globex's flips never count; retention's cut is where the history starts.
import { describe, expect, test } from "bun:test";
import { migrate, openDb, type Db } from "../db";
import { createTenant, updateTenantSettings } from "../tenants/tenants";
import { getJob, pauseJob, putJob, resumeJob, type Job } from "../jobs/jobs";
import { CheckinWriter, type CheckinEvent } from "../checkins/writer";
import { Engine } from "../monitor/engine";
import { createLogger } from "../log";
import { pruneHistory } from "./retention";
import { uptimeByMonth } from "./uptime";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (month: number, day: number, hour = 0) => Date.UTC(2026, month - 1, day, hour);

class World {
  readonly db: Db = openDb(":memory:");
  clock = 0;
  readonly engine: Engine;
  readonly writer: CheckinWriter;
  constructor() {
    migrate(this.db);
    this.engine = new Engine({ db: this.db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => this.clock });
    this.writer = new CheckinWriter(this.db);
    this.writer.onCommit = (rows) => this.engine.applyCommitted(rows);
  }
  tenant(slug: string) {
    return createTenant(this.db, { slug }, null).id;
  }
  /** A job created at `when` that runs at midnight on the 1st of each month (in `timezone`), one hour's grace. */
  monthly(tenantId: string, name: string, when: number, timezone = "UTC"): Job {
    return putJob(this.db, tenantId, "ops", name, { schedule: "0 0 1 * *", timezone, grace: "1h" }, when).job;
  }
  async checkin(job: Job, kind: CheckinEvent["kind"], when: number) {
    this.clock = when;
    const done = this.writer.append({ tenant_id: job.tenant_id, job_id: job.id, last_checkin_id: null, kind, exit_code: kind === "fail" ? 1 : 0, rid: null, received_at: when, started_at: null, duration_ms: null, body: null, truncated: false, source: "test" });
    this.writer.flush();
    await done;
  }
  /** The engine's tick at `when`: deadlines due by then fire. */
  tick(when: number) {
    this.clock = when;
    this.engine.tick(when);
  }
  uptime(tenantId: string, job: Job, now: number, opts: { months?: number; keptSince?: number } = {}) {
    return uptimeByMonth(this.db, tenantId, getJob(this.db, tenantId, job.namespace, job.name), now, opts);
  }
}

/** acme's backup: created 20 September, up on 1 October, failed 10 October 00:00-06:00, late then down on 1 November 00:00-03:00. */
async function backupStory(w: World, tenantId: string, timezone = "UTC") {
  const job = w.monthly(tenantId, "backup", at(9, 20), timezone);
  await w.checkin(job, "success", at(10, 1));
  await w.checkin(job, "fail", at(10, 10));
  await w.checkin(job, "success", at(10, 10, 6));
  w.tick(at(11, 1, 0) + 60_000); // late at midnight
  w.tick(at(11, 1, 1) + 60_000); // down once the hour's grace is over
  await w.checkin(job, "success", at(11, 1, 3));
  return job;
}

describe("uptime per month", () => {
  test("downtime is the time spent down or failed, the uptime a share of the time monitored; months newest first", async () => {
    const w = new World();
    const acme = w.tenant("acme");
    const job = await backupStory(w, acme);
    const now = at(11, 15, 12);
    expect(w.uptime(acme, job, now)).toEqual([
      // Late from midnight, down from 01:00 (the deadline, not the tick a minute later), up at 03:00.
      { month: "2026-11", from: at(11, 1), to: now, downtime_ms: 2 * HOUR, monitored_ms: now - at(11, 1), uptime: 1 - (2 * HOUR) / (now - at(11, 1)), outages: 1 },
      { month: "2026-10", from: at(10, 1), to: at(11, 1), downtime_ms: 6 * HOUR, monitored_ms: 31 * DAY, uptime: 1 - (6 * HOUR) / (31 * DAY), outages: 1 },
      // From its creation: never heard from until October, so nothing of September was monitored.
      { month: "2026-09", from: at(9, 20), to: at(10, 1), downtime_ms: 0, monitored_ms: 0, uptime: null, outages: 0 },
    ]);
    // No month before the job existed.
    expect(w.uptime(acme, job, now, { months: 6 }).map((m) => m.month)).toEqual(["2026-11", "2026-10", "2026-09"]);
  });

  test("months are the job's calendar months: in New York, 02:00 UTC on 1 November is still October", async () => {
    const w = new World();
    const acme = w.tenant("acme");
    const job = w.monthly(acme, "backup", at(9, 20), "America/New_York");
    await w.checkin(job, "success", at(10, 1, 12));
    await w.checkin(job, "fail", at(10, 31, 23));
    await w.checkin(job, "success", at(11, 1, 2));
    const [nov, oct] = w.uptime(acme, job, at(11, 2));
    // New York is at UTC-4 until 06:00 UTC on 1 November 2026: its November begins at 04:00 UTC.
    expect(oct).toMatchObject({ month: "2026-10", to: at(11, 1, 4), downtime_ms: 3 * HOUR, outages: 1 });
    expect(nov).toMatchObject({ month: "2026-11", from: at(11, 1, 4), downtime_ms: 0, outages: 0 });
  });

  test("a pause and a resume write no flip: from the last flip to the resume is not known, and neither is counted", async () => {
    const w = new World();
    const acme = w.tenant("acme");
    const job = await backupStory(w, acme);
    pauseJob(w.db, acme, "ops", "backup", at(11, 10));
    resumeJob(w.db, acme, "ops", "backup", at(11, 12));
    const [nov] = w.uptime(acme, job, at(11, 15));
    // Known: 00:00-03:00 on the 1st (two hours of it down); then up until a pause no flip records,
    // then new (not monitored) since the resume on the 12th.
    expect(nov).toMatchObject({ downtime_ms: 2 * HOUR, monitored_ms: 3 * HOUR, outages: 1 });
    expect(nov!.uptime).toBeCloseTo(1 / 3, 10);
    // Paused now: nothing after the pause is counted either.
    pauseJob(w.db, acme, "ops", "backup", at(11, 13));
    expect(w.uptime(acme, job, at(11, 15))[0]).toMatchObject({ downtime_ms: 2 * HOUR, monitored_ms: 3 * HOUR });
  });

  test("the history starts where retention cut the flips; another tenant's flips never count", async () => {
    const w = new World();
    const acme = w.tenant("acme");
    const globex = w.tenant("globex");
    const job = await backupStory(w, acme);
    const theirs = w.monthly(globex, "backup", at(9, 20));
    await w.checkin(theirs, "fail", at(11, 2));
    const now = at(11, 15);
    // Retention of 41 days deletes the flips before 5 October: October counts from there, with
    // the status the first flip kept starts from.
    updateTenantSettings(w.db, acme, { retention_days: 41 });
    expect(pruneHistory(w.db, now).flips).toBe(1);
    const [nov, oct, sep] = w.uptime(acme, job, now, { keptSince: now - 41 * DAY });
    expect(oct).toMatchObject({ from: at(10, 5), downtime_ms: 6 * HOUR, monitored_ms: at(11, 1) - at(10, 5) });
    expect(nov).toMatchObject({ downtime_ms: 2 * HOUR, outages: 1 });
    expect(sep).toMatchObject({ from: at(10, 5), to: at(10, 5), monitored_ms: 0, uptime: null });
    // The same job name in globex, failed since 2 November: its own story, not acme's.
    expect(w.uptime(globex, theirs, now)[0]).toMatchObject({ downtime_ms: now - at(11, 2), monitored_ms: now - at(11, 2), outages: 1 });
    expect(uptimeByMonth(w.db, globex, getJob(w.db, acme, "ops", "backup"), now)[0]).toMatchObject({ downtime_ms: 0, outages: 0 });
  });

  test("a job that never flipped has the status it has now since status_since", async () => {
    const w = new World();
    const acme = w.tenant("acme");
    const job = w.monthly(acme, "fresh", at(11, 3));
    expect(w.uptime(acme, job, at(11, 4))).toEqual([{ month: "2026-11", from: at(11, 3), to: at(11, 4), downtime_ms: 0, monitored_ms: 0, uptime: null, outages: 0 }]);
  });
});
