// Prometheus metrics in the text exposition format (0.0.4), two views on one URL:
// the operator's (the whole appliance, behind CRONTOPUS_METRICS_TOKEN) and a tenant's
// (its own jobs, behind an API token). Figures kept in memory by the engine and the
// check-in writer come in as arguments; nothing here reaches for a global.
import { createHash, timingSafeEqual } from "node:crypto";
import { statSync } from "node:fs";
import type { Db } from "../db";
import { jobStates } from "../monitor/states";
import { JOB_STATUSES, type JobStatus } from "../jobs/jobs";
import { VERSION } from "../version";

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Escapes a label value as the exposition format wants: backslash, double quote, newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** One metric family: HELP and TYPE, then its samples (already formatted). */
function family(name: string, type: "gauge" | "counter", help: string, samples: string[]): string {
  const head = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  return samples.length ? `${head}${samples.join("\n")}\n` : head;
}

const num = (n: number) => (Number.isFinite(n) ? String(n) : Number.isNaN(n) ? "NaN" : n > 0 ? "+Inf" : "-Inf");

/**
 * Whether `authorization` carries the operator's metrics token. Both sides are hashed first so
 * that the comparison takes the same time whatever the length or content of the guess.
 */
export function isMetricsToken(configured: string | null, authorization: string | null): boolean {
  if (!configured || !authorization) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!m) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(m[1]!), digest(configured));
}

// ---- Tenant view ----

/** The statuses in which a job needs no one's attention: crontopus_job_up is 1. */
const HEALTHY: ReadonlySet<JobStatus> = new Set(["up", "new", "running", "paused"]);

export interface JobFigures {
  namespace: string;
  name: string;
  status: JobStatus;
  last_success_at: number | null;
  last_duration_ms: number | null;
  checkins_total: number;
}

export function listJobFigures(db: Db, tenantId: string): JobFigures[] {
  const states = jobStates(db);
  return db
    .query<JobFigures & { id: string }, { tenant: string }>(
      `SELECT id, namespace, name, status, last_success_at, last_duration_ms, checkins_total
       FROM jobs WHERE tenant_id = $tenant ORDER BY namespace, name`,
    )
    .all({ tenant: tenantId })
    .map(({ id, ...j }) => {
      // What the engine holds is ahead of the row.
      const h = states.ahead(id);
      return h ? { ...j, status: h.state.status, last_success_at: h.job.last_success_at, last_duration_ms: h.job.last_duration_ms, checkins_total: h.job.checkins_total } : j;
    });
}

/** The tenant view: one set of series per job. Pure, so it can be timed on 10,000 jobs. */
export function renderTenantMetrics(jobs: JobFigures[], now: number): string {
  const status: string[] = [];
  const up: string[] = [];
  const sinceSuccess: string[] = [];
  const duration: string[] = [];
  const checkins: string[] = [];
  for (const j of jobs) {
    const labels = `namespace="${escapeLabelValue(j.namespace)}",name="${escapeLabelValue(j.name)}"`;
    status.push(`crontopus_job_status{${labels},status="${escapeLabelValue(j.status)}"} 1`);
    up.push(`crontopus_job_up{${labels}} ${HEALTHY.has(j.status) ? 1 : 0}`);
    // A job that never succeeded has no such series: absent() in an alert says so.
    if (j.last_success_at !== null) sinceSuccess.push(`crontopus_job_seconds_since_last_success{${labels}} ${num(Math.max(0, now - j.last_success_at) / 1000)}`);
    if (j.last_duration_ms !== null) duration.push(`crontopus_job_last_duration_seconds{${labels}} ${num(j.last_duration_ms / 1000)}`);
    checkins.push(`crontopus_job_checkins_total{${labels}} ${j.checkins_total}`);
  }
  return [
    family("crontopus_job_status", "gauge", "The job's current status, as the label status (always 1).", status),
    family("crontopus_job_up", "gauge", "1 when the job is up, new, running or paused; 0 when it is late, down or failed.", up),
    family("crontopus_job_seconds_since_last_success", "gauge", "Seconds since the job's last successful run (absent if it never succeeded).", sinceSuccess),
    family("crontopus_job_last_duration_seconds", "gauge", "Duration of the job's last finished run, in seconds.", duration),
    family("crontopus_job_checkins_total", "counter", "Check-ins applied to the job since it was created.", checkins),
  ].join("");
}

/** A tenant's GitOps sync as the metrics show it (null while no repository is connected). */
export interface GitopsFigures {
  tenant: string;
  /** The last finished sync's state: never, ok, degraded or failing (a sync running shows the one before). */
  state: string;
  last_success_at: number | null;
  last_sync_at: number | null;
  failures_total: number;
}

export const GITOPS_METRIC_STATES = ["never", "ok", "degraded", "failing"] as const;

interface GitopsRow {
  state: string | null;
  last_state: string | null;
  last_success_at: number | null;
  last_sync_at: number | null;
  failures_total: number | null;
}

/** The state a scrape shows: while a sync runs (or after a crash left `syncing`), the last one that finished. */
function finishedState(r: Pick<GitopsRow, "state" | "last_state">): string {
  const state = r.state === "syncing" ? r.last_state : r.state;
  return state && (GITOPS_METRIC_STATES as readonly string[]).includes(state) ? state : "never";
}

/** The last finished sync's state, for finishedState. */
const LAST_STATE = "(SELECT y.state FROM gitops_syncs y WHERE y.tenant_id = s.tenant_id ORDER BY y.id DESC LIMIT 1) AS last_state";

export function findGitopsFigures(db: Db, tenantId: string): GitopsFigures | null {
  const r = db
    .query<GitopsRow & { slug: string }, { tenant: string }>(
      `SELECT t.slug, st.state, st.last_success_at, st.last_sync_at, st.failures_total, ${LAST_STATE}
       FROM gitops_settings s JOIN tenants t ON t.id = s.tenant_id LEFT JOIN gitops_status st ON st.tenant_id = s.tenant_id
       WHERE s.tenant_id = $tenant`,
    )
    .get({ tenant: tenantId });
  if (!r) return null;
  return { tenant: r.slug, state: finishedState(r), last_success_at: r.last_success_at, last_sync_at: r.last_sync_at, failures_total: r.failures_total ?? 0 };
}

/** The tenant's GitOps series, labelled with its slug; nothing while no repository is connected. Pure. */
export function renderGitopsMetrics(g: GitopsFigures | null): string {
  if (!g) return "";
  const labels = `tenant="${escapeLabelValue(g.tenant)}"`;
  return [
    family(
      "crontopus_gitops_state",
      "gauge",
      "The state of the tenant's last finished GitOps sync, as the label state (always 1): never, ok, degraded or failing.",
      [`crontopus_gitops_state{${labels},state="${g.state}"} 1`],
    ),
    family(
      "crontopus_gitops_last_success_timestamp_seconds",
      "gauge",
      "When the tenant's last GitOps sync that applied its commit (ok or degraded) finished, in Unix seconds (absent if none did).",
      g.last_success_at === null ? [] : [`crontopus_gitops_last_success_timestamp_seconds{${labels}} ${num(g.last_success_at / 1000)}`],
    ),
    family(
      "crontopus_gitops_last_sync_timestamp_seconds",
      "gauge",
      "When the tenant's last GitOps sync finished, whatever its state, in Unix seconds (absent before the first).",
      g.last_sync_at === null ? [] : [`crontopus_gitops_last_sync_timestamp_seconds{${labels}} ${num(g.last_sync_at / 1000)}`],
    ),
    family("crontopus_gitops_sync_failures_total", "counter", "GitOps syncs of the tenant that failed (nothing could be applied) since the repository was connected.", [
      `crontopus_gitops_sync_failures_total{${labels}} ${g.failures_total}`,
    ]),
  ].join("");
}

export function tenantMetrics(db: Db, tenantId: string, now: number): string {
  return renderTenantMetrics(listJobFigures(db, tenantId), now) + renderGitopsMetrics(findGitopsFigures(db, tenantId));
}

// ---- Operator view ----

/** What the monitoring engine counts in memory (Engine.totals). */
export interface EngineTotals {
  ticks: number;
  checkins: number;
  flips: number;
  notifications: number;
  last_tick_ms: number;
}

export interface OperatorFigures {
  /** The check-in writer's counters (ctx.checkins). */
  writer: { committed: number; batches: number };
  /** Absent when no engine runs in this process (e.g. an app built for a test). */
  engine?: EngineTotals | null;
  /** Requests in flight on the HTTP server (Bun's server.pendingRequests), when there is one. */
  pendingRequests?: number | null;
}

function countJobsByStatus(db: Db): Map<string, number> {
  const rows = db.query<{ status: string; n: number }, []>("SELECT status, count(*) AS n FROM jobs GROUP BY status").all();
  return new Map(rows.map((r) => [r.status, r.n]));
}

function countNotificationsByStatus(db: Db): Map<string, number> {
  const rows = db.query<{ status: string; n: number }, []>("SELECT status, count(*) AS n FROM notifications GROUP BY status").all();
  return new Map(rows.map((r) => [r.status, r.n]));
}

/** Connected repositories by the state of their last finished sync (operator view: no tenant named). */
function countGitopsByState(db: Db): Map<string, number> {
  const counts = new Map<string, number>();
  const rows = db
    .query<Pick<GitopsRow, "state" | "last_state">, []>(`SELECT st.state, ${LAST_STATE} FROM gitops_settings s LEFT JOIN gitops_status st ON st.tenant_id = s.tenant_id`)
    .all();
  for (const r of rows) counts.set(finishedState(r), (counts.get(finishedState(r)) ?? 0) + 1);
  return counts;
}

function countTenants(db: Db): number {
  return db.query<{ n: number }, []>("SELECT count(*) AS n FROM tenants").get()!.n;
}

/** Check-ins committed to the log that the engine has not applied yet. */
function countUnappliedCheckins(db: Db): number {
  return db
    .query<{ n: number }, []>(
      "SELECT (SELECT ifnull(max(id), 0) FROM checkins) - (SELECT value FROM engine_state WHERE key = 'checkins_applied') AS n",
    )
    .get()!.n;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export function operatorMetrics(db: Db, figures: OperatorFigures): string {
  const mem = process.memoryUsage();
  const jobs = countJobsByStatus(db);
  const notifications = countNotificationsByStatus(db);
  const gitops = countGitopsByState(db);
  const out = [
    family("crontopus_build_info", "gauge", "The running Crontopus version (always 1).", [`crontopus_build_info{version="${escapeLabelValue(VERSION)}"} 1`]),
    family("crontopus_uptime_seconds", "gauge", "Seconds since the server process started.", [`crontopus_uptime_seconds ${num(process.uptime())}`]),
    family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", [`process_resident_memory_bytes ${mem.rss}`]),
    family("crontopus_heap_used_bytes", "gauge", "JavaScript heap in use, in bytes.", [`crontopus_heap_used_bytes ${mem.heapUsed}`]),
    family("crontopus_heap_size_bytes", "gauge", "JavaScript heap size, in bytes.", [`crontopus_heap_size_bytes ${mem.heapTotal}`]),
  ];
  if (figures.pendingRequests != null) {
    out.push(family("crontopus_http_pending_requests", "gauge", "HTTP requests in flight.", [`crontopus_http_pending_requests ${figures.pendingRequests}`]));
  }
  out.push(
    family("crontopus_checkins_committed_total", "counter", "Check-ins committed to the log since start.", [`crontopus_checkins_committed_total ${figures.writer.committed}`]),
    family("crontopus_checkin_batches_total", "counter", "Group commits of the check-in log since start.", [`crontopus_checkin_batches_total ${figures.writer.batches}`]),
    family("crontopus_checkins_unapplied", "gauge", "Check-ins in the log the engine has not applied yet.", [`crontopus_checkins_unapplied ${countUnappliedCheckins(db)}`]),
  );
  const e = figures.engine;
  if (e) {
    out.push(
      family("crontopus_engine_ticks_total", "counter", "Monitoring engine ticks since start.", [`crontopus_engine_ticks_total ${e.ticks}`]),
      family("crontopus_engine_last_tick_seconds", "gauge", "How long the last engine tick took, in seconds.", [`crontopus_engine_last_tick_seconds ${num(e.last_tick_ms / 1000)}`]),
      family("crontopus_engine_checkins_applied_total", "counter", "Check-ins applied by the engine since start.", [`crontopus_engine_checkins_applied_total ${e.checkins}`]),
      family("crontopus_flips_total", "counter", "Job status changes since start.", [`crontopus_flips_total ${e.flips}`]),
      family("crontopus_notifications_queued_total", "counter", "Notifications queued by the engine since start.", [`crontopus_notifications_queued_total ${e.notifications}`]),
    );
  }
  out.push(
    family(
      "crontopus_notifications",
      "gauge",
      "Notifications in the outbox, by delivery status.",
      ["pending", "sent", "failed"].map((s) => `crontopus_notifications{status="${s}"} ${notifications.get(s) ?? 0}`),
    ),
    family(
      "crontopus_jobs",
      "gauge",
      "Jobs across all tenants, by status.",
      JOB_STATUSES.map((s) => `crontopus_jobs{status="${s}"} ${jobs.get(s) ?? 0}`),
    ),
    family("crontopus_tenants", "gauge", "Tenants.", [`crontopus_tenants ${countTenants(db)}`]),
    family(
      "crontopus_gitops_repositories",
      "gauge",
      "Tenants' connected GitOps repositories, by the state of their last finished sync.",
      GITOPS_METRIC_STATES.map((s) => `crontopus_gitops_repositories{state="${s}"} ${gitops.get(s) ?? 0}`),
    ),
  );
  // An in-memory database (tests) has no file to measure.
  if (db.filename && db.filename !== ":memory:") {
    out.push(
      family("crontopus_database_size_bytes", "gauge", "Size of the SQLite database file, in bytes.", [`crontopus_database_size_bytes ${fileSize(db.filename)}`]),
      family("crontopus_database_wal_size_bytes", "gauge", "Size of the SQLite write-ahead log, in bytes.", [`crontopus_database_wal_size_bytes ${fileSize(`${db.filename}-wal`)}`]),
    );
  }
  return out.join("");
}
