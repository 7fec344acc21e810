// The timeline at the service: alice's acme has a nightly backup (one run the night before the
// window, one inside it, one still running), a report that fails at once, a deploy in the web
// namespace that began before the window and ended inside it, and a busy job with more runs than a
// row holds. Globex's backup is not acme's business.
import { beforeAll, describe, expect, test } from "bun:test";
import { migrate, openDb, type Db } from "../db";
import { createTenant } from "../tenants/tenants";
import { putJob } from "../jobs/jobs";
import { CheckinWriter, type CheckinEvent } from "../checkins/writer";
import { Engine } from "../monitor/engine";
import { createLogger } from "../log";
import { invalid } from "../../test/thrown";
import { runTimeline, type Timeline } from "./timeline";

const H = 3_600_000;
const NOW = Date.UTC(2026, 10, 24, 12);
const FROM = NOW - 24 * H;

let db: Db;
let acme: string;
let globex: string;
const ids: Record<string, string> = {};

type Send = Partial<CheckinEvent> & Pick<CheckinEvent, "job_id" | "kind" | "received_at">;

async function send(writer: CheckinWriter, tenantId: string, list: Send[]) {
  const done = list.map((e) =>
    writer.append({ tenant_id: tenantId, last_checkin_id: null, exit_code: e.kind === "fail" ? 1 : e.kind === "success" ? 0 : null, rid: null, started_at: null, duration_ms: null, body: null, truncated: false, source: "test", ...e }),
  );
  writer.flush();
  await Promise.all(done);
}

beforeAll(async () => {
  db = openDb(":memory:");
  migrate(db);
  acme = createTenant(db, { slug: "acme" }, null).id;
  globex = createTenant(db, { slug: "globex" }, null).id;
  const made = NOW - 30 * H;
  for (const [ns, name, labels] of [["ops", "backup", {}], ["ops", "report", {}], ["web", "deploy", { team: "web" }], ["ops", "busy", {}]] as const) {
    ids[name] = putJob(db, acme, ns, name, { schedule: "@every 1h", labels }, made).job.id;
  }
  ids.other = putJob(db, globex, "ops", "backup", { schedule: "@every 1h" }, made).job.id;
  const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => NOW });
  const writer = new CheckinWriter(db);
  writer.onCommit = (rows) => engine.applyCommitted(rows);
  const backup = ids.backup!;
  await send(writer, acme, [
    // The night before the window: started and finished outside it.
    { job_id: backup, kind: "start", rid: "00000000-0000-4000-8000-000000000001", received_at: NOW - 26 * H },
    { job_id: backup, kind: "success", rid: "00000000-0000-4000-8000-000000000001", received_at: NOW - 25 * H },
    { job_id: ids.deploy!, kind: "success", started_at: FROM - H / 2, duration_ms: (2 * H) / 3, received_at: FROM + H / 6 },
    { job_id: backup, kind: "start", rid: "00000000-0000-4000-8000-000000000002", received_at: NOW - 22 * H },
    { job_id: backup, kind: "success", rid: "00000000-0000-4000-8000-000000000002", received_at: NOW - 21 * H },
    { job_id: ids.report!, kind: "fail", received_at: NOW - 3 * H },
    { job_id: backup, kind: "start", received_at: NOW - 2 * H },
  ]);
  // Delivered late: it arrived last, with the time it happened.
  await send(writer, acme, [{ job_id: ids.report!, kind: "success", received_at: NOW - 20 * H }]);
  const busy: Send[] = [];
  for (let i = 0; i < 150; i++) busy.push({ job_id: ids.busy!, kind: "success", started_at: FROM + i * 5 * 60_000, duration_ms: 60_000, received_at: FROM + i * 5 * 60_000 + 60_000 });
  await send(writer, acme, busy);
  await send(writer, globex, [{ job_id: ids.other!, kind: "success", received_at: NOW - H }]);
});

const rowsOf = (t: Timeline) => t.rows.map((r) => `${r.job.namespace}/${r.job.name}`);
const barsOf = (t: Timeline, name: string) => t.rows.find((r) => r.job.name === name)!.bars.map((b) => ({ status: b.run.status, start: b.start - NOW, end: b.end - NOW }));

describe("runTimeline", () => {
  test("a row per job, in the jobs list's order, each with the runs that overlap the window, oldest first", () => {
    const t = runTimeline(db, acme, { from: FROM, to: NOW }, NOW);
    expect(rowsOf(t)).toEqual(["ops/backup", "ops/busy", "ops/report", "web/deploy"]);
    // The night before is left out; the run still going ends now.
    expect(barsOf(t, "backup")).toEqual([
      { status: "success", start: -22 * H, end: -21 * H },
      { status: "running", start: -2 * H, end: 0 },
    ]);
    // A finish reported without its start is an instant; the one delivered late is there too.
    expect(barsOf(t, "report")).toEqual([
      { status: "success", start: -20 * H, end: -20 * H },
      { status: "failed", start: -3 * H, end: -3 * H },
    ]);
    // Begun before the window, ended inside it.
    expect(barsOf(t, "deploy")).toEqual([{ status: "success", start: -24 * H - H / 2, end: -24 * H + H / 6 }]);
    expect(t.next_cursor).toBeNull();
  });

  test("a row holds the newest runs up to its bound and says from when it is complete", () => {
    const t = runTimeline(db, acme, { from: FROM, to: NOW, maxRuns: 100 }, NOW);
    const busy = t.rows.find((r) => r.job.name === "busy")!;
    expect(busy.bars).toHaveLength(100);
    expect(busy.bars[0]!.start).toBe(FROM + 50 * 5 * 60_000);
    expect(busy.complete_from).toBe(busy.bars[0]!.start);
    expect(busy.cut_by).toBe("runs");
    expect(t.rows.find((r) => r.job.name === "backup")!.complete_from).toBeNull();
    expect(t.rows.find((r) => r.job.name === "backup")!.cut_by).toBeNull();
    expect(runTimeline(db, acme, { from: FROM, to: NOW, maxRuns: 1000 }, NOW).rows.find((r) => r.job.name === "busy")!.bars).toHaveLength(150);
  });

  test("filters by namespace and by label, and pages the jobs beyond its bound", () => {
    expect(rowsOf(runTimeline(db, acme, { from: FROM, to: NOW, namespace: "web" }, NOW))).toEqual(["web/deploy"]);
    expect(rowsOf(runTimeline(db, acme, { from: FROM, to: NOW, labels: ["team=web"] }, NOW))).toEqual(["web/deploy"]);
    const first = runTimeline(db, acme, { from: FROM, to: NOW, maxJobs: 3 }, NOW);
    expect(rowsOf(first)).toEqual(["ops/backup", "ops/busy", "ops/report"]);
    expect(rowsOf(runTimeline(db, acme, { from: FROM, to: NOW, maxJobs: 3, cursor: first.next_cursor! }, NOW))).toEqual(["web/deploy"]);
  });

  test("a window elsewhere in time holds that window's runs", () => {
    const night = runTimeline(db, acme, { from: NOW - 27 * H, to: NOW - 24 * H }, NOW);
    expect(barsOf(night, "backup")).toEqual([{ status: "success", start: -26 * H, end: -25 * H }]);
    expect(barsOf(night, "report")).toEqual([]);
  });

  test("shows none of another tenant's jobs or runs", () => {
    const t = runTimeline(db, globex, { from: FROM, to: NOW }, NOW);
    expect(rowsOf(t)).toEqual(["ops/backup"]);
    expect(barsOf(t, "backup")).toEqual([{ status: "success", start: -H, end: -H }]);
  });

  test("a job whose history after the window is longer than one read walks says from when its row is complete", async () => {
    const own = openDb(":memory:");
    migrate(own);
    const tenant = createTenant(own, { slug: "chatty" }, null).id;
    const job = putJob(own, tenant, "ops", "heartbeat", { schedule: "@every 1m" }, NOW - 30 * H).job.id;
    const engine = new Engine({ db: own, log: createLogger("silent"), baseUrl: "http://localhost", now: () => NOW });
    const writer = new CheckinWriter(own);
    writer.onCommit = (rows) => engine.applyCommitted(rows);
    // A run yesterday, then 5,100 check-ins in the last hour and a half.
    const list: Send[] = [{ job_id: job, kind: "success", received_at: NOW - 26 * H }];
    for (let i = 0; i < 5100; i++) list.push({ job_id: job, kind: "success", received_at: NOW - 90 * 60_000 + i * 1000 });
    await send(writer, tenant, list);
    const yesterday = runTimeline(own, tenant, { from: NOW - 27 * H, to: NOW - 25 * H }, NOW).rows[0]!;
    expect(yesterday.bars).toEqual([]);
    expect(yesterday.cut_by).toBe("history");
    expect(yesterday.complete_from).toBeGreaterThan(NOW - 25 * H);
    // The window the walk reaches is whole, bounded by its runs.
    const lastHour = runTimeline(own, tenant, { from: NOW - H, to: NOW }, NOW).rows[0]!;
    expect(lastHour.cut_by).toBe("runs");
    expect(lastHour.bars).toHaveLength(30);
  });

  test("refuses a window that ends before it starts or is longer than a month", () => {
    expect(invalid(() => runTimeline(db, acme, { from: NOW, to: NOW }, NOW)).message).toBe("window: must end after it starts");
    expect(invalid(() => runTimeline(db, acme, { from: NOW - 32 * 24 * H, to: NOW }, NOW)).message).toBe("window: must be at most 31 days");
  });
});
