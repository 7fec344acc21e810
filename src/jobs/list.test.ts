// The jobs list at the service, as the console's /jobs page asks for it: alice's acme has jobs in
// every state the engine gives them; each order pages through them all exactly once, worst status
// first or newest check-in first; labels come with the worst status of their jobs; globex's jobs
// and labels never show.
import { describe, expect, test } from "bun:test";
import { migrate, openDb, type Db } from "../db";
import { createTenant } from "../tenants/tenants";
import { CheckinWriter, type CheckinEvent } from "../checkins/writer";
import { Engine } from "../monitor/engine";
import { createLogger } from "../log";
import { BadRequest, Invalid } from "../errors";
import { thrown } from "../../test/thrown";
import { listJobLabels, listJobs, pauseJob, putJob, worstStatus, type Job } from "./jobs";

const NOW = Date.UTC(2026, 10, 24, 12);
const MIN = 60_000;

async function checkin(writer: CheckinWriter, job: Job, kind: CheckinEvent["kind"], at: number) {
  const done = writer.append({ tenant_id: job.tenant_id, job_id: job.id, last_checkin_id: null, kind, exit_code: kind === "fail" ? 1 : 0, rid: null, received_at: at, started_at: null, duration_ms: null, body: null, truncated: false, source: "test" });
  writer.flush();
  await done;
}

/** acme: backup up (last check-in newest), report failed, sync up earlier, cleanup new, archive paused, deploy running. */
async function acmeWithLife() {
  const db = openDb(":memory:");
  migrate(db);
  const acme = createTenant(db, { slug: "acme" }, null).id;
  const globex = createTenant(db, { slug: "globex" }, null).id;
  const put = (ns: string, name: string, schedule: string, labels: Record<string, string> = {}) => putJob(db, acme, ns, name, { schedule, labels }, NOW).job;
  const backup = put("ops", "backup", "@every 1h", { env: "prod", team: "db" });
  const report = put("ops", "report", "@every 1h", { env: "prod" });
  const sync = put("crm", "sync", "@every 2h", { env: "staging" });
  put("ops", "cleanup", "0 3 * * *", { env: "staging" });
  put("ops", "archive", "@daily", { env: "prod", team: "archive" });
  const deploy = put("ci", "deploy", "@every 1h");
  const theirs = putJob(db, globex, "ops", "backup", { schedule: "@every 1h", labels: { env: "secret" } }, NOW).job;
  pauseJob(db, acme, "ops", "archive", NOW);

  const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => NOW + 10 * MIN });
  const writer = new CheckinWriter(db);
  writer.onCommit = (rows) => engine.applyCommitted(rows);
  await checkin(writer, sync, "success", NOW + 1 * MIN);
  await checkin(writer, report, "fail", NOW + 2 * MIN);
  await checkin(writer, deploy, "start", NOW + 3 * MIN);
  await checkin(writer, backup, "success", NOW + 4 * MIN);
  await checkin(writer, theirs, "fail", NOW + 5 * MIN);
  // The monitoring columns written back, as the sweep does every WRITE_BACK_MS.
  engine.tick(NOW + 10 * MIN, true);
  return { db, acme, globex };
}

const names = (jobs: Job[]) => jobs.map((j) => `${j.namespace}/${j.name}`);

/** Every page of the list in one order, a page of `limit` at a time. */
function allPages(db: Db, tenantId: string, sort: string | undefined, limit: number, filter: { labels?: string[] } = {}): string[] {
  const out: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = listJobs(db, tenantId, { sort, limit, cursor, ...filter });
    out.push(...names(page.jobs));
    if (!page.next_cursor) return out;
    cursor = page.next_cursor;
  }
  throw new Error("pages never ended");
}

describe("listing jobs in an order", () => {
  test("by name by default: namespace, then name, with the cursor the API has always given out", async () => {
    const { db, acme } = await acmeWithLife();
    expect(allPages(db, acme, undefined, 2)).toEqual(["ci/deploy", "crm/sync", "ops/archive", "ops/backup", "ops/cleanup", "ops/report"]);
    const first = listJobs(db, acme, { limit: 1 });
    expect(JSON.parse(Buffer.from(first.next_cursor!, "base64url").toString())).toEqual(["ci", "deploy"]);
  });

  test("by status: the worst first (failed, then new, running, up, paused), by name among equals, across pages", async () => {
    const { db, acme } = await acmeWithLife();
    const expected = ["ops/report", "ops/cleanup", "ci/deploy", "crm/sync", "ops/backup", "ops/archive"];
    expect(allPages(db, acme, "status", 50)).toEqual(expected);
    for (const limit of [1, 2, 4]) expect(allPages(db, acme, "status", limit)).toEqual(expected);
  });

  test("by last run: the newest check-in first, jobs never heard from last", async () => {
    const { db, acme } = await acmeWithLife();
    const expected = ["ops/backup", "ci/deploy", "ops/report", "crm/sync", "ops/archive", "ops/cleanup"];
    for (const limit of [1, 3, 50]) expect(allPages(db, acme, "last_run", limit)).toEqual(expected);
  });

  test("by next run: the soonest expected first, a paused job (expected at no time) last", async () => {
    const { db, acme } = await acmeWithLife();
    const pages = allPages(db, acme, "next_run", 2);
    const jobs = pages.map((ref) => {
      const [ns, name] = ref.split("/");
      return listJobs(db, acme, { namespace: ns, q: name }).jobs.find((j) => j.name === name)!;
    });
    expect(pages.length).toBe(6);
    expect(pages.at(-1)).toBe("ops/archive");
    const expected = jobs.slice(0, -1).map((j) => j.expected_at!);
    expect(expected).toEqual([...expected].sort((a, b) => a - b));
  });

  test("filters and an order together: the prod jobs by status", async () => {
    const { db, acme } = await acmeWithLife();
    expect(allPages(db, acme, "status", 1, { labels: ["env=prod"] })).toEqual(["ops/report", "ops/backup", "ops/archive"]);
  });

  test("refuses an unknown order, and a cursor given out for another order", async () => {
    const { db, acme } = await acmeWithLife();
    thrown(Invalid, () => listJobs(db, acme, { sort: "color" }));
    const byStatus = listJobs(db, acme, { sort: "status", limit: 1 }).next_cursor!;
    thrown(BadRequest, () => listJobs(db, acme, { sort: "name", cursor: byStatus }));
    thrown(BadRequest, () => listJobs(db, acme, { sort: "last_run", cursor: byStatus }));
    thrown(BadRequest, () => listJobs(db, acme, { sort: "status", cursor: Buffer.from('["a","b","toString",1]').toString("base64url") }));
  });

  test("another tenant's jobs never show in any order", async () => {
    const { db, globex } = await acmeWithLife();
    for (const sort of ["name", "status", "last_run", "next_run"]) expect(allPages(db, globex, sort, 1)).toEqual(["ops/backup"]);
  });
});

describe("the labels of a tenant's jobs", () => {
  test("each key=value with its job count and the worst status of its jobs; paused jobs count only when all are paused", async () => {
    const { db, acme, globex } = await acmeWithLife();
    expect(listJobLabels(db, acme)).toEqual([
      { key: "env", value: "prod", jobs: 3, worst: "failed" },
      { key: "env", value: "staging", jobs: 2, worst: "new" },
      { key: "team", value: "archive", jobs: 1, worst: "paused" },
      { key: "team", value: "db", jobs: 1, worst: "up" },
    ]);
    expect(listJobLabels(db, globex)).toEqual([{ key: "env", value: "secret", jobs: 1, worst: "failed" }]);
  });

  test("the worst of some statuses", () => {
    expect(worstStatus(["up", "late", "running"])).toBe("late");
    expect(worstStatus(["paused", "up"])).toBe("up");
    expect(worstStatus(["down", "failed"])).toBe("failed");
    expect(worstStatus([])).toBeNull();
  });
});
