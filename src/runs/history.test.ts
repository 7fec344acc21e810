// A job's log with its flips between its runs: alice's backup comes up, fails twice, comes back,
// misses a run (late, then down) and comes back again. Paged by any size, every run and every flip
// shows once, newest first, each flip right above the run that caused it; globex's job and flips
// never show.
import { describe, expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { createTenant } from "../tenants/tenants";
import { putJob, type Job } from "../jobs/jobs";
import { CheckinWriter, type CheckinEvent } from "../checkins/writer";
import { Engine } from "../monitor/engine";
import { createLogger } from "../log";
import { BadRequest } from "../errors";
import { thrown } from "../../test/thrown";
import { jobLog, type LogEntry } from "./history";

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 24, 12);

async function story() {
  const db = openDb(":memory:");
  migrate(db);
  const acme = createTenant(db, { slug: "acme" }, null).id;
  const globex = createTenant(db, { slug: "globex" }, null).id;
  let clock = T0;
  const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => clock });
  const writer = new CheckinWriter(db);
  writer.onCommit = (rows) => engine.applyCommitted(rows);
  const checkin = async (job: Job, kind: CheckinEvent["kind"], minute: number) => {
    clock = T0 + minute * MIN;
    const done = writer.append({ tenant_id: job.tenant_id, job_id: job.id, last_checkin_id: null, kind, exit_code: kind === "fail" ? 1 : 0, rid: null, received_at: clock, started_at: null, duration_ms: null, body: null, truncated: false, source: "test" });
    writer.flush();
    await done;
  };
  const backup = putJob(db, acme, "ops", "backup", { schedule: "@every 10m", grace: "2m" }, T0).job;
  const theirs = putJob(db, globex, "ops", "backup", { schedule: "@every 10m", grace: "2m" }, T0).job;
  await checkin(backup, "success", 1); // new -> up
  await checkin(backup, "fail", 11); // up -> failed
  await checkin(theirs, "fail", 12);
  await checkin(backup, "fail", 21); // still failed
  await checkin(backup, "success", 31); // failed -> up
  await checkin(backup, "success", 41);
  await checkin(backup, "start", 45); // up -> running
  await checkin(backup, "success", 47); // running -> up
  // No run at 57: late at 57, down at 59.
  clock = T0 + 60 * MIN;
  engine.tick(clock);
  await checkin(backup, "success", 61); // down -> up
  return { db, acme, globex, backup, theirs };
}

const line = (e: LogEntry) => (e.kind === "run" ? `run ${e.run.status} @${(e.run.finished_at! - T0) / MIN}` : `flip ${e.flip.from}->${e.flip.to} @${(e.flip.created_at - T0) / MIN}`);

const WHOLE = [
  "flip down->up @61",
  "run success @61",
  "flip late->down @59",
  "flip up->late @57",
  "flip running->up @47",
  "run success @47",
  "flip up->running @45",
  "run success @41",
  "flip failed->up @31",
  "run success @31",
  "run failed @21",
  "flip up->failed @11",
  "run failed @11",
  "flip new->up @1",
  "run success @1",
];

describe("a job's log", () => {
  test("runs newest first with the flips between them, each flip above the run that caused it", async () => {
    const { db, acme, backup } = await story();
    const page = jobLog(db, acme, backup.id);
    expect(page.entries.map(line)).toEqual(WHOLE);
    expect(page.next_cursor).toBeNull();
  });

  test("paged by any number of runs, every run and every flip shows once, in the same order", async () => {
    const { db, acme, backup } = await story();
    for (const limit of [1, 2, 3, 4, 5]) {
      const all: string[] = [];
      let cursor: string | undefined;
      for (let n = 0; n < 20; n++) {
        const page = jobLog(db, acme, backup.id, { cursor, limit });
        expect(page.entries.filter((e) => e.kind === "run").length).toBeLessThanOrEqual(limit);
        all.push(...page.entries.map(line));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      expect(`${limit}: ${all.join(", ")}`).toBe(`${limit}: ${WHOLE.join(", ")}`);
    }
  });

  test("quiet: the flips between up and running (two a run with a start signal) are left out, the rest stays", async () => {
    const { db, acme, backup } = await story();
    const quiet = WHOLE.filter((l) => !["flip running->up @47", "flip up->running @45"].includes(l));
    for (const limit of [2, 50]) {
      const all: string[] = [];
      let cursor: string | undefined;
      do {
        const page = jobLog(db, acme, backup.id, { cursor, limit, quiet: true });
        all.push(...page.entries.map(line));
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      expect(all).toEqual(quiet);
    }
  });

  test("another tenant's job shows nothing of acme's, and a foreign cursor is refused", async () => {
    const { db, acme, globex, backup, theirs } = await story();
    expect(jobLog(db, globex, theirs.id).entries.map(line)).toEqual(["flip new->failed @12", "run failed @12"]);
    expect(jobLog(db, globex, backup.id).entries).toEqual([]);
    expect(jobLog(db, acme, theirs.id).entries).toEqual([]);
    thrown(BadRequest, () => jobLog(db, acme, backup.id, { cursor: "abc" }));
  });
});
