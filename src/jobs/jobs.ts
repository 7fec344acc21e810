// Jobs: the rules and the SQL. Every function takes the tenant id first.
import type { Db } from "../db";
import { parseJsonColumn } from "../db";
import { BadRequest, Conflict, Invalid, ManagedByGit, NotFound } from "../errors";
import { newId, randomSecret } from "../tokens";
import { parseJob, withDefaults, type JobSpec, type ParsedJob } from "./manifest";
import { JOB_STATUSES, type Job, type JobRow, type JobStatus } from "./types";
import { nextRuns, parseSchedule } from "./schedule";
import { ensureNamespace } from "../tenants/namespaces";
import { jobStates } from "../monitor/states";
import { queueJobPurge } from "../runs/purge";

// The types live in types.ts, which the monitor imports without importing this service.
export { JOB_STATUSES, type Job, type JobMonitoring, type JobRow, type JobStatus } from "./types";

export function rowToJob(r: JobRow): Job {
  return {
    id: r.id,
    tenant_id: r.tenant_id,
    namespace: r.namespace,
    name: r.name,
    labels: parseJsonColumn(r.labels, {}),
    annotations: parseJsonColumn(r.annotations, {}),
    schedule: r.schedule,
    timezone: r.timezone,
    command: r.command,
    args: parseJsonColumn(r.args, []),
    working_dir: r.working_dir,
    env: parseJsonColumn(r.env, {}),
    grace_s: r.grace_s,
    timeout_s: r.timeout_s,
    enabled: r.enabled === 1,
    paused: r.paused === 1,
    status: r.status,
    agent_selector: parseJsonColumn(r.agent_selector, null),
    user: r.run_as,
    ping_token: r.ping_token,
    created_at: r.created_at,
    updated_at: r.updated_at,
    alert_after: r.alert_after,
    min_runtime_s: r.min_runtime_s,
    start_grace_s: r.start_grace_s,
    renotify_s: r.renotify_s,
    channels: parseJsonColumn(r.channels, null),
    consecutive_failures: r.consecutive_failures,
    checkins_total: r.checkins_total,
    last_ping_at: r.last_ping_at,
    last_success_at: r.last_success_at,
    last_failure_at: r.last_failure_at,
    last_duration_ms: r.last_duration_ms,
    last_exit_code: r.last_exit_code,
    status_since: r.status_since,
    expected_at: r.expected_at,
    next_deadline: r.next_deadline,
    last_notified_at: r.last_notified_at,
    last_checkin_id: r.last_checkin_id,
    open_runs: r.open_runs,
    alerting: r.alerting === 1,
    source: r.source_repository === null ? null : { repository: r.source_repository, path: r.source_path, commit: r.source_commit },
    source_paused: r.source_repository === null || r.source_paused === null ? null : r.source_paused === 1,
  };
}

/**
 * Whether a git-managed job is paused (or running) against what Git says: someone paused or
 * resumed it through the API, console or CLI. A runtime override, which a sync keeps.
 */
export function pausedOverride(job: Pick<Job, "source" | "source_paused" | "paused">): boolean {
  return job.source !== null && job.source_paused !== null && job.paused !== job.source_paused;
}

/** When the job is next expected to run, in epoch ms: an @every job one period after its last check-in, not one period after now. */
export function nextRunTimes(job: Job, now: number, count = 5): number[] {
  const schedule = parseSchedule("schedule", job.schedule, job.timezone);
  return nextRuns(schedule, job.timezone, now, count, schedule.kind === "every" && job.expected_at !== null ? job.expected_at - schedule.seconds * 1000 : undefined);
}

/** The job with its current monitoring state: the one read every surface goes through. */
export function currentJob(db: Db, r: JobRow): Job {
  return jobStates(db).current(rowToJob(r));
}

export function findJob(db: Db, tenantId: string, namespace: string, name: string): Job | null {
  const r = db
    .query<JobRow, [string, string, string]>("SELECT * FROM jobs WHERE tenant_id = ? AND namespace = ? AND name = ?")
    .get(tenantId, namespace, name);
  return r ? currentJob(db, r) : null;
}

export function getJob(db: Db, tenantId: string, namespace: string, name: string): Job {
  const job = findJob(db, tenantId, namespace, name);
  if (!job) throw new NotFound(`job ${namespace}/${name}`);
  return job;
}

export function getJobById(db: Db, tenantId: string, id: string): Job {
  const r = db.query<JobRow, [string, string]>("SELECT * FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, id);
  if (!r) throw new NotFound("job");
  return currentJob(db, r);
}

/** A job as a check-in or a filter needs it: which one, whose, and the head of its history. */
export type JobHandle = Pick<Job, "id" | "tenant_id" | "last_checkin_id">;

/** The tenant's job a reference names: "namespace/name", "name" (namespace default) or the job's id. */
export function resolveJobRef(db: Db, tenantId: string, ref: string): JobHandle {
  const slash = ref.indexOf("/");
  const row =
    slash > 0
      ? db.query<JobHandle, [string, string, string]>("SELECT id, tenant_id, last_checkin_id FROM jobs WHERE tenant_id = ? AND namespace = ? AND name = ?").get(tenantId, ref.slice(0, slash), ref.slice(slash + 1))
      : db.query<JobHandle, [string, string, string]>("SELECT id, tenant_id, last_checkin_id FROM jobs WHERE tenant_id = ? AND (id = ? OR (namespace = 'default' AND name = ?))").get(tenantId, ref, ref);
  if (!row) throw new NotFound(`job ${ref}`);
  return row;
}

/** Whether a reference (as resolveJobRef reads it) names this job. */
export function refersTo(ref: string, job: Pick<Job, "id" | "namespace" | "name">): boolean {
  return ref === job.id || ref === `${job.namespace}/${job.name}` || (job.namespace === "default" && ref === job.name);
}

/** Warnings the caller should see beyond the parser's own, e.g. a manifest written for another tenant. */
function tenantWarnings(db: Db, tenantId: string, parsed: ParsedJob): string[] {
  if (parsed.tenant === undefined) return [];
  const slug = db.query<{ slug: string }, [string]>("SELECT slug FROM tenants WHERE id = ?").get(tenantId)?.slug;
  return parsed.tenant === slug ? [] : [`metadata.tenant "${parsed.tenant}" ignored: the job belongs to tenant "${slug}"`];
}

function insertJob(db: Db, tenantId: string, spec: JobSpec, now: number): string {
  ensureNamespace(db, tenantId, spec.namespace, now);
  const id = newId();
  db.query(
    `INSERT INTO jobs (id, tenant_id, namespace, name, labels, annotations, schedule, timezone, command, args, working_dir, env,
       grace_s, timeout_s, enabled, paused, status, agent_selector, run_as, ping_token, created_at, updated_at,
       alert_after, min_runtime_s, start_grace_s, renotify_s, channels, status_since)
     VALUES ($id, $tenant, $namespace, $name, $labels, $annotations, $schedule, $timezone, $command, $args, $working_dir, $env,
       $grace, $timeout, $enabled, $paused, $status, $selector, $run_as, $token, $now, $now,
       $alert_after, $min_runtime, $start_grace, $renotify, $channels, $now)`,
  ).run({
    id,
    tenant: tenantId,
    ...specParams(spec),
    status: spec.paused ? "paused" : "new",
    token: randomSecret(18),
    now,
  });
  // When it is first expected, and when the engine must look at it.
  jobStates(db).changed(id, now, true, spec.paused);
  return id;
}

function specParams(spec: JobSpec) {
  return {
    namespace: spec.namespace,
    name: spec.name,
    labels: JSON.stringify(spec.labels),
    annotations: JSON.stringify(spec.annotations),
    schedule: spec.schedule,
    timezone: spec.timezone,
    command: spec.command,
    args: JSON.stringify(spec.args),
    working_dir: spec.working_dir,
    env: JSON.stringify(spec.env),
    grace: spec.grace_s,
    timeout: spec.timeout_s,
    enabled: spec.enabled ? 1 : 0,
    paused: spec.paused ? 1 : 0,
    selector: spec.agent_selector ? JSON.stringify(spec.agent_selector) : null,
    run_as: spec.user,
    alert_after: spec.alert_after,
    min_runtime: spec.min_runtime_s,
    start_grace: spec.start_grace_s,
    renotify: spec.renotify_s,
    channels: spec.channels ? JSON.stringify(spec.channels) : null,
  };
}

function updateJob(db: Db, tenantId: string, id: string, spec: JobSpec, previous: Job, now: number): void {
  db.query(
    `UPDATE jobs SET labels = $labels, annotations = $annotations, schedule = $schedule, timezone = $timezone,
       command = $command, args = $args, working_dir = $working_dir, env = $env, grace_s = $grace, timeout_s = $timeout,
       enabled = $enabled, paused = $paused, agent_selector = $selector, run_as = $run_as, updated_at = $now,
       alert_after = $alert_after, min_runtime_s = $min_runtime, start_grace_s = $start_grace, renotify_s = $renotify,
       channels = $channels
     WHERE tenant_id = $tenant AND id = $id`,
  ).run({ ...specParams(spec), now, tenant: tenantId, id });
  // Pausing and resuming through an update moves the status the same way pauseJob/resumeJob do.
  const scheduleChanged = spec.schedule !== previous.schedule || spec.timezone !== previous.timezone;
  jobStates(db).changed(id, now, scheduleChanged, previous.paused);
}

export interface WriteResult {
  job: Job;
  created: boolean;
  /** False when the job already had this spec: nothing was written, `updated_at` stays. */
  changed: boolean;
  warnings: string[];
}

/** Whether a write would store what is stored already (the same columns, the same values). */
function sameSpec(a: JobSpec, b: JobSpec): boolean {
  return JSON.stringify(specParams(a)) === JSON.stringify(specParams(b));
}

/** POST: creates a job; 409 when one of that name exists in the namespace. */
export function createJob(db: Db, tenantId: string, doc: unknown, now: number): WriteResult {
  const parsed = parseJob(doc);
  const spec = withDefaults(parsed.fields);
  return db.transaction(() => {
    if (findJob(db, tenantId, spec.namespace, spec.name)) {
      throw new Conflict(`job ${spec.namespace}/${spec.name} already exists; use PUT to replace it`);
    }
    insertJob(db, tenantId, spec, now);
    return { job: getJob(db, tenantId, spec.namespace, spec.name), created: true, changed: true, warnings: [...parsed.warnings, ...tenantWarnings(db, tenantId, parsed)] };
  })();
}

/** Writes that may change a git-managed job: only a sync's (src/gitops/sync.ts). */
export interface WriteOptions {
  bySync?: boolean;
}

/** Refuses a change to the spec of a job Git manages (pause and resume stay allowed). */
function assertNotGitManaged(job: Job | null, opts: WriteOptions): void {
  if (job?.source && !opts.bySync) throw new ManagedByGit(`job ${job.namespace}/${job.name}`, job.source);
}

/**
 * The spec a write of `parsed` (parseJob of the document, `partial` for a PATCH) to the job
 * namespace/name asks for, checked, with its warnings: the whole spec (PUT), or with `over` the
 * fields given over that job's spec (PATCH). Write-back (src/gitops/writeback.ts) commits it.
 */
export function requestedSpec(db: Db, tenantId: string, namespace: string, name: string, parsed: ParsedJob, over?: JobSpec): { spec: JobSpec; warnings: string[] } {
  const warnings = [...parsed.warnings, ...tenantWarnings(db, tenantId, parsed)];
  if (!over) return { spec: withDefaults({ ...parsed.fields, namespace, name }), warnings };
  const spec: JobSpec = { ...over, ...parsed.fields, namespace, name };
  // The schedule and timezone are checked together: a new timezone may meet an old schedule.
  parseSchedule("schedule", spec.schedule, spec.timezone);
  return { spec, warnings };
}

/** PUT: creates the job or replaces its whole spec; the id and ping URL survive a replace. */
export function putJob(db: Db, tenantId: string, namespace: string, name: string, doc: unknown, now: number, opts: WriteOptions = {}): WriteResult {
  const { spec, warnings } = requestedSpec(db, tenantId, namespace, name, parseJob(doc, { namespace, name }));
  return db.transaction(() => {
    const existing = findJob(db, tenantId, namespace, name);
    assertNotGitManaged(existing, opts);
    // Applying the same manifest again writes nothing: updated_at keeps meaning "last changed".
    const changed = !existing || !sameSpec(spec, existing);
    if (existing && changed) updateJob(db, tenantId, existing.id, spec, existing, now);
    else if (!existing) insertJob(db, tenantId, spec, now);
    return { job: getJob(db, tenantId, namespace, name), created: !existing, changed, warnings };
  })();
}

/** PATCH: changes only the fields given. */
export function patchJob(db: Db, tenantId: string, namespace: string, name: string, doc: unknown, now: number): WriteResult {
  const parsed = parseJob(doc, { partial: true, namespace, name });
  return db.transaction(() => {
    const existing = findJob(db, tenantId, namespace, name);
    if (!existing) throw new NotFound(`job ${namespace}/${name}`);
    assertNotGitManaged(existing, {});
    const { spec, warnings } = requestedSpec(db, tenantId, namespace, name, parsed, existing);
    const changed = !sameSpec(spec, existing);
    if (changed) updateJob(db, tenantId, existing.id, spec, existing, now);
    return { job: getJob(db, tenantId, namespace, name), created: false, changed, warnings };
  })();
}

export function deleteJob(db: Db, tenantId: string, namespace: string, name: string, opts: WriteOptions = {}): void {
  const job = findJob(db, tenantId, namespace, name);
  if (!job) throw new NotFound(`job ${namespace}/${name}`);
  assertNotGitManaged(job, opts);
  const states = jobStates(db);
  db.transaction(() => {
    db.query("DELETE FROM jobs WHERE tenant_id = ? AND id = ?").run(tenantId, job.id);
    // Its check-ins and their output follow in the background (docs/api.md).
    queueJobPurge(db, tenantId, job.id, states.head(job.id, job.last_checkin_id));
  })();
  states.dropped(job);
}

export function pauseJob(db: Db, tenantId: string, namespace: string, name: string, now: number): Job {
  return db.transaction(() => {
    const job = findJob(db, tenantId, namespace, name);
    if (!job) throw new NotFound(`job ${namespace}/${name}`);
    // Return early, without touching the status, if the job is already paused.
    if (job.paused) return job;
    db.query("UPDATE jobs SET paused = 1, updated_at = ?1 WHERE tenant_id = ?2 AND id = ?3").run(now, tenantId, job.id);
    jobStates(db).changed(job.id, now, true, false);
    return getJob(db, tenantId, namespace, name);
  })();
}

export function resumeJob(db: Db, tenantId: string, namespace: string, name: string, now: number): Job {
  return db.transaction(() => {
    const job = findJob(db, tenantId, namespace, name);
    if (!job) throw new NotFound(`job ${namespace}/${name}`);
    if (!job.paused) return job;
    // A resumed job starts afresh (see JobStates.changed).
    db.query("UPDATE jobs SET paused = 0, updated_at = ?1 WHERE tenant_id = ?2 AND id = ?3").run(now, tenantId, job.id);
    jobStates(db).changed(job.id, now, true, true);
    return getJob(db, tenantId, namespace, name);
  })();
}

/** How a list of jobs is ordered: by name (namespace, then name), worst status first, last check-in newest first, next expected run soonest first. */
export const JOB_SORTS = ["name", "status", "last_run", "next_run"] as const;
export type JobSort = (typeof JOB_SORTS)[number];

/** The statuses from worst to best: what needs attention first (a status sort, a label's colour). */
export const STATUS_SEVERITY: readonly JobStatus[] = ["failed", "down", "late", "new", "running", "up", "paused"];

/** The worst of some statuses (STATUS_SEVERITY); null for none. */
export function worstStatus(statuses: Iterable<JobStatus>): JobStatus | null {
  let worst: JobStatus | null = null;
  for (const s of statuses) if (worst === null || STATUS_SEVERITY.indexOf(s) < STATUS_SEVERITY.indexOf(worst)) worst = s;
  return worst;
}

export interface JobFilter {
  namespace?: string;
  status?: string;
  labels?: string[];
  q?: string;
  limit?: number;
  cursor?: string;
  /** The order (default name); a cursor continues the order it was given out for. */
  sort?: string;
}

// The sort key of each order, as SQL over the row. Missing times go last: never-run jobs after the
// ones that ran, paused jobs (expected at no time) after the ones due. The row's times may be up to
// a second behind what JobStates holds for a busy job (its status never is): an order, not a clock.
const RANK_SQL = `CASE status ${STATUS_SEVERITY.map((s, i) => `WHEN '${s}' THEN ${i}`).join(" ")} ELSE ${STATUS_SEVERITY.length} END`;
const SORT_KEYS: Record<Exclude<JobSort, "name">, { sql: string; desc: boolean }> = {
  status: { sql: RANK_SQL, desc: false },
  last_run: { sql: "ifnull(last_ping_at, -1)", desc: true },
  next_run: { sql: "CASE WHEN paused = 1 OR expected_at IS NULL THEN 9000000000000000 ELSE expected_at END", desc: false },
};

type Cursor = { ns: string; name: string; sort: JobSort; key: number | null };

function decodeCursor(cursor: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "string")) return { ns: v[0], name: v[1], sort: "name", key: null };
    if (Array.isArray(v) && v.length === 4 && typeof v[0] === "string" && typeof v[1] === "string" && Object.hasOwn(SORT_KEYS, v[2]) && typeof v[3] === "number") {
      return { ns: v[0], name: v[1], sort: v[2], key: v[3] };
    }
  } catch {}
  throw new BadRequest("cursor: not a cursor this server gave out");
}

// The name order's cursor keeps the shape it always had ([namespace, name]).
const encodeCursor = (ns: string, name: string, sort: JobSort = "name", key: number | null = null) =>
  Buffer.from(JSON.stringify(sort === "name" ? [ns, name] : [ns, name, sort, key])).toString("base64url");

/** Lists jobs in the order asked for (by namespace and name by default), a page at a time (keyset pagination). */
export function listJobs(db: Db, tenantId: string, f: JobFilter): { jobs: Job[]; next_cursor: string | null } {
  const limit = f.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new Invalid("limit", "must be between 1 and 500");
  if (f.status !== undefined && !(JOB_STATUSES as readonly string[]).includes(f.status)) {
    throw new Invalid("status", `must be one of ${JOB_STATUSES.join(", ")}`);
  }
  const sort = (f.sort ?? "name") as JobSort;
  if (!JOB_SORTS.includes(sort)) throw new Invalid("sort", `must be one of ${JOB_SORTS.join(", ")}`);
  const key = sort === "name" ? null : SORT_KEYS[sort];
  const where: string[] = [];
  const params: Record<string, string | number> = { tenant: tenantId, limit: limit + 1 };
  if (f.namespace) {
    where.push("namespace = $namespace");
    params.namespace = f.namespace;
  }
  if (f.status) {
    where.push("status = $status");
    params.status = f.status;
  }
  (f.labels ?? []).forEach((sel, i) => {
    const eq = sel.indexOf("=");
    const key = eq < 0 ? sel : sel.slice(0, eq);
    if (!key) throw new Invalid("label", "expected key=value or key");
    params[`lk${i}`] = key;
    if (eq < 0) {
      where.push(`EXISTS (SELECT 1 FROM json_each(labels) WHERE key = $lk${i})`);
    } else {
      params[`lv${i}`] = sel.slice(eq + 1);
      where.push(`EXISTS (SELECT 1 FROM json_each(labels) WHERE key = $lk${i} AND value = $lv${i})`);
    }
  });
  if (f.q) {
    where.push("(instr(lower(name), $q) > 0 OR instr(lower(namespace), $q) > 0 OR instr(lower(ifnull(command, '')), $q) > 0)");
    params.q = f.q.toLowerCase();
  }
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    if (c.sort !== sort) throw new BadRequest(`cursor: given out for the ${c.sort} order, not ${sort}`);
    params.cns = c.ns;
    params.cname = c.name;
    if (!key) where.push("(namespace, name) > ($cns, $cname)");
    else {
      // After the cursor's row: further on in the key's direction, or the same key and a later name.
      where.push(`(${key.sql} ${key.desc ? "<" : ">"} $ckey OR (${key.sql} = $ckey AND (namespace, name) > ($cns, $cname)))`);
      params.ckey = c.key!;
    }
  }
  const order = key ? `${key.sql} ${key.desc ? "DESC" : "ASC"}, namespace, name` : "namespace, name";
  const rows = db
    .query<JobRow & { sort_key?: number }, Record<string, string | number>>(
      `SELECT *${key ? `, ${key.sql} AS sort_key` : ""} FROM jobs WHERE ${["tenant_id = $tenant", ...where].join(" AND ")} ORDER BY ${order} LIMIT $limit`,
    )
    .all(params);
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return {
    jobs: kept.map((r) => currentJob(db, r)),
    next_cursor: more && last ? encodeCursor(last.namespace, last.name, sort, last.sort_key ?? null) : null,
  };
}

/** A label (key=value) of the tenant's jobs: how many jobs carry it and the worst of their statuses. */
export interface LabelSummary {
  key: string;
  value: string;
  jobs: number;
  worst: JobStatus;
}

/**
 * Every label of the tenant's jobs, by key and value, with the worst status of its jobs (paused
 * ones count only when all its jobs are paused): the console's label chips.
 */
export function listJobLabels(db: Db, tenantId: string): LabelSummary[] {
  // Grouped by the label set as stored first: jobs share a few sets, so this reads each row once
  // and parses each set once (json_each over every row cost 13 ms at 10,000 jobs).
  const sets = db
    .query<{ labels: string; status: JobStatus; n: number }, [string]>(
      "SELECT labels, status, count(*) AS n FROM jobs WHERE tenant_id = ? AND labels != '{}' GROUP BY labels, status",
    )
    .all(tenantId);
  const byLabel = new Map<string, { key: string; value: string; jobs: number; statuses: Set<JobStatus> }>();
  for (const set of sets) {
    for (const [key, value] of Object.entries(parseJsonColumn<Record<string, string>>(set.labels, {}))) {
      const id = JSON.stringify([key, value]);
      let l = byLabel.get(id);
      if (!l) byLabel.set(id, (l = { key, value, jobs: 0, statuses: new Set() }));
      l.jobs += set.n;
      l.statuses.add(set.status);
    }
  }
  return [...byLabel.values()]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    .map(({ key, value, jobs, statuses }) => {
      const all = [...statuses];
      return { key, value, jobs, worst: worstStatus(all.some((s) => s !== "paused") ? all.filter((s) => s !== "paused") : all)! };
    });
}

/**
 * How many of the tenant's jobs are in each status (every status present, zero or more). A status
 * change is written to the job row at once (JobStates), so the rows' status is current.
 */
export function countJobsByStatus(db: Db, tenantId: string): Record<JobStatus, number> {
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  const rows = db
    .query<{ status: JobStatus; n: number }, [string]>("SELECT status, count(*) AS n FROM jobs WHERE tenant_id = ? GROUP BY status")
    .all(tenantId);
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}
