// Check-ins: finding the job a check-in is for, and turning input into a log entry.
// Every check-in, from a ping URL, the API, the CLI wrapper or an agent, goes through the
// same CheckinWriter and is applied by the engine.
import type { Db } from "../db";
import { Forbidden, Invalid, Unauthorized } from "../errors";
import { createJob, refersTo, resolveJobRef } from "../jobs/jobs";
import type { CheckinEvent, CheckinKind, Head } from "./writer";
import { jobStates, type JobStates } from "../monitor/states";
import { truncateText } from "../headtail";

export interface PingTarget {
  id: string;
  tenant_id: string;
  last_checkin_id: number | null;
  /** The job's head in the writer, on cached lookups: passed on with each check-in. */
  head?: Head;
  /** The generation of job deletes it was cached at (JobStates.generation). */
  generation?: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isRunId(rid: string): boolean {
  return UUID_RE.test(rid);
}

/** Jobs found by ping token, kept in memory: the lookup runs on every ping. */
const MAX_CACHED_TOKENS = 100_000;

export class PingLookup {
  private readonly cache = new Map<string, PingTarget>();
  private readonly byToken;
  private readonly tenantByKey;
  private readonly byName;
  private readonly states: JobStates;

  constructor(
    private readonly db: Db,
    /** The writer the found jobs' check-ins go to: its heads are kept with the cached jobs. */
    private readonly writer: { headOf(jobId: string): Head } | null = null,
  ) {
    // A deleted job must stop answering at once: cached hits are checked against the owner of job state's generation of deletes.
    this.states = jobStates(db);
    this.byToken = db.query<PingTarget, [string]>("SELECT id, tenant_id, last_checkin_id FROM jobs WHERE ping_token = ?");
    this.tenantByKey = db.query<{ id: string; auto_provision: number }, [string]>(
      "SELECT id, auto_provision FROM tenants WHERE ping_key = ?",
    );
    this.byName = db.query<PingTarget, [string, string, string]>(
      "SELECT id, tenant_id, last_checkin_id FROM jobs WHERE tenant_id = ? AND namespace = ? AND name = ?",
    );
  }

  token(token: string): PingTarget | null {
    const hit = this.cache.get(token);
    const generation = this.states.generation;
    if (hit?.generation === generation) return hit;
    // Not cached, or cached before a job was deleted (or a delete rolled back): the database says.
    const found = this.byToken.get(token);
    if (hit) {
      if (found?.id === hit.id) {
        // Still there: the cached entry stays, with what hangs off it (its head, its rate window).
        hit.generation = generation;
        return hit;
      }
      this.cache.delete(token);
    }
    if (found) {
      if (this.cache.size >= MAX_CACHED_TOKENS) this.cache.clear();
      if (this.writer) found.head = this.writer.headOf(found.id);
      found.generation = generation;
      this.cache.set(token, found);
    }
    return found;
  }

  /**
   * A job by the tenant's ping key and a slug: `<name>` in the default namespace, or
   * `<namespace>-<name>` (names may hold '-', so each split is tried, default first).
   */
  slug(pingKey: string, slug: string): { target: PingTarget | null; tenantId: string | null; autoProvision: boolean } {
    const tenant = this.tenantByKey.get(pingKey);
    if (!tenant) return { target: null, tenantId: null, autoProvision: false };
    let target = this.byName.get(tenant.id, "default", slug);
    for (let i = slug.indexOf("-"); !target && i > 0; i = slug.indexOf("-", i + 1)) {
      target = this.byName.get(tenant.id, slug.slice(0, i), slug.slice(i + 1));
    }
    return { target, tenantId: tenant.id, autoProvision: tenant.auto_provision === 1 };
  }
}

/**
 * The slug that pings `job` under its tenant's ping key (`<name>` in namespace default, else
 * `<namespace>-<name>`), or null when that slug reaches another job first (default/<slug> is tried
 * before each split). `success` is the path for a plain success: a slug that reads like a suffix
 * (start, fail, log, a number) needs its `/0`.
 */
export function pingSlug(db: Db, pingKey: string, job: { id: string; namespace: string; name: string }): { slug: string; success: string } | null {
  const slug = job.namespace === "default" ? job.name : `${job.namespace}-${job.name}`;
  if (new PingLookup(db).slug(pingKey, slug).target?.id !== job.id) return null;
  return { slug, success: /^(start|fail|log|\d+)$/.test(slug) ? `${slug}/0` : slug };
}

/** Creates a ping-only job for an unknown slug (tenants that allow auto-provisioning). */
export function provisionJob(db: Db, tenantId: string, slug: string, now: number): PingTarget {
  const { job } = createJob(db, tenantId, { name: slug, schedule: "@every 1d", annotations: { "crontopus.io/provisioned-by": "ping" } }, now);
  return { id: job.id, tenant_id: tenantId, last_checkin_id: null };
}

const KINDS: readonly CheckinKind[] = ["start", "success", "fail", "log"];

export interface CheckinInput {
  job: string;
  kind: string;
  exit_code?: number;
  duration_ms?: number;
  output?: string;
  run_id?: string;
  started_at?: string | number;
  /** When it happened, for results delivered late (e.g. spooled by an agent). */
  at?: string | number;
  /** With kind fail: the wrapper killed the command at the job's timeout. */
  timed_out?: boolean;
  /** The host the run happened on, added to the source. */
  host?: string;
}

/** How far ahead of the server's clock a client's clock may be (hosts are never quite in step). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** The longest run a check-in may report. */
export const MAX_DURATION_MS = 31 * 86_400_000;

/** The times a client may give with a check-in (the API, `exec`, an agent's spooled results). */
export interface ClientTimes {
  started_at?: string | number;
  at?: string | number;
  duration_ms?: number;
}

function parseTime(field: string, v: string | number): number {
  // Digits only or an ISO 8601 text; Date.parse also takes forms such as "1" or "Dec 3".
  const ms = typeof v === "number" ? v : /^-?\d+$/.test(v.trim()) ? Number(v) : /^[+-]?\d{4,6}-\d\d-\d\d/.test(v.trim()) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new Invalid(field, "expected an ISO 8601 time or milliseconds since the epoch");
  return ms;
}

/**
 * The one rule for every time a client gives (kept here, and every path that takes one calls
 * it): a time lies within the tenant's retention into the past and at most 5 minutes into the
 * future (clock skew between hosts); a duration is 0 to 31 days and fits the times given with
 * it. A start has no duration. Returns when the check-in happened (`at`, null for "now") and
 * the start and duration to store.
 */
export function readClientTimes(kind: CheckinKind, input: ClientTimes, now: number, retentionDays: number): { at: number | null; startedAt: number | null; durationMs: number | null } {
  const earliest = now - retentionDays * 86_400_000;
  const latest = now + MAX_CLOCK_SKEW_MS;
  const within = (field: string, ms: number) => {
    if (ms > latest) throw new Invalid(field, "is more than 5 minutes in the future");
    if (ms < earliest) throw new Invalid(field, `is older than the tenant's retention of ${retentionDays} days`);
    return ms;
  };
  const startedAt = input.started_at === undefined ? null : within("started_at", parseTime("started_at", input.started_at));
  let at = input.at === undefined ? null : within("at", parseTime("at", input.at));
  let durationMs: number | null = null;
  if (input.duration_ms !== undefined) {
    const d = input.duration_ms;
    if (!Number.isInteger(d) || d < 0) throw new Invalid("duration_ms", "must be a whole number of milliseconds, 0 or more");
    if (d > MAX_DURATION_MS) throw new Invalid("duration_ms", "must be at most 31 days (2678400000 ms)");
    if (kind === "start") throw new Invalid("duration_ms", "a start has no duration; send it with the finish");
    durationMs = d;
  }
  if (kind === "start") {
    if (startedAt !== null && at !== null && startedAt !== at) throw new Invalid("started_at", "a start happens when it starts: give at or started_at, or both the same");
    return { at: at ?? startedAt, startedAt, durationMs };
  }
  if (startedAt !== null) {
    if (at === null && durationMs !== null) at = within("duration_ms", startedAt + durationMs);
    const end = at ?? now;
    if (startedAt > end) throw new Invalid("started_at", at !== null ? "is after at" : "is in the future");
    if (end - startedAt > MAX_DURATION_MS) throw new Invalid("started_at", "is more than 31 days before the finish");
    // The duration may be measured on another clock than the times (a monotonic one): allow a second.
    if (durationMs !== null && durationMs > end - startedAt + 1000) throw new Invalid("duration_ms", "is longer than the time from started_at to the finish");
  }
  return { at, startedAt, durationMs };
}

/** How many days of history a tenant keeps: how far back a client-given time may lie. */
export function tenantRetentionDays(db: Db, tenantId: string): number {
  return db.query<{ retention_days: number }, [string]>("SELECT retention_days FROM tenants WHERE id = ?").get(tenantId)?.retention_days ?? 1;
}

/**
 * Who presents an API check-in, and so for which jobs it may record one:
 * - a credential of a whole tenant (an API token with write, a session, an agent token): any job
 *   of that tenant, with `source` saying who it was;
 * - a job's own check-in token (its ping token): that one job only. `exec` running as another
 *   user than the agent reports with it: it can do nothing else.
 */
export type CheckinCredential = { tenantId: string; source: string } | { jobToken: string };

/** The job with this ping token, in whichever tenant: a lookup by a secret, cross-tenant on purpose. */
function findJobByCheckinToken(db: Db, token: string): (PingTarget & { namespace: string; name: string }) | null {
  return db.query<PingTarget & { namespace: string; name: string }, [string]>("SELECT id, tenant_id, last_checkin_id, namespace, name FROM jobs WHERE ping_token = ?").get(token);
}

/**
 * The job an API check-in names, if this credential may record check-ins for it: a tenant's
 * credential finds only its tenant's jobs (another tenant's is not found: never say it exists),
 * a job's token only its own job. Returns the source to record with it.
 */
export function checkinTarget(db: Db, who: CheckinCredential, ref: string): { target: PingTarget; source: string } {
  if ("tenantId" in who) return { target: resolveJobRef(db, who.tenantId, ref), source: who.source };
  const job = findJobByCheckinToken(db, who.jobToken);
  if (!job) throw new Unauthorized("invalid token");
  if (!refersTo(ref, job)) throw new Forbidden("a job's check-in token records check-ins for that job only");
  return { target: { id: job.id, tenant_id: job.tenant_id, last_checkin_id: job.last_checkin_id }, source: "job token" };
}

/** An API check-in (POST /api/v1/checkins): its job, if `who` may check in for it, and the checked log entry to append. */
export function apiCheckin(db: Db, who: CheckinCredential, input: CheckinInput, bodyLimit: number, now: number): CheckinEvent {
  const { target, source } = checkinTarget(db, who, input.job);
  return checkinEvent(target, input, input.host ? `${source} on ${input.host}` : source, bodyLimit, now, tenantRetentionDays(db, target.tenant_id));
}

/** Checks an API check-in and turns it into a log entry. */
export function checkinEvent(target: PingTarget, input: CheckinInput, source: string, bodyLimit: number, now: number, retentionDays: number): CheckinEvent {
  if (!(KINDS as readonly string[]).includes(input.kind)) throw new Invalid("kind", `must be one of ${KINDS.join(", ")}`);
  const kind = input.kind as CheckinKind;
  if (input.exit_code !== undefined) {
    if (!Number.isInteger(input.exit_code) || input.exit_code < 0 || input.exit_code > 255) throw new Invalid("exit_code", "must be 0 to 255");
    if (kind === "success" && input.exit_code !== 0) throw new Invalid("exit_code", "a success has exit code 0; send kind fail");
    if (kind === "fail" && input.exit_code === 0) throw new Invalid("exit_code", "a failure has an exit code of 1 to 255; send kind success");
  }
  if (input.run_id !== undefined && !isRunId(input.run_id)) throw new Invalid("run_id", "must be a UUID");
  const { at, startedAt, durationMs } = readClientTimes(kind, input, now, retentionDays);
  const { text, truncated } = truncateText(input.output ?? null, bodyLimit);
  return {
    tenant_id: target.tenant_id,
    job_id: target.id,
    last_checkin_id: target.last_checkin_id,
    kind,
    exit_code: input.exit_code ?? (kind === "success" ? 0 : null),
    rid: input.run_id ?? null,
    received_at: at ?? now,
    started_at: startedAt,
    duration_ms: durationMs,
    body: text,
    truncated,
    source,
    ...(input.timed_out && kind === "fail" ? { timed_out: true } : {}),
  };
}
