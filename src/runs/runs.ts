// Runs are check-ins: a finish (success or failure, paired with its start when there was one),
// or a start still running or timed out. A job's history is the chain of its check-ins
// (checkins.prev_id, linked by the writer), read by rowid from the newest check-in the engine
// applied; the tenant's is its jobs' chains merged newest first. The log has no index on
// tenant or job: appending stays cheap. Every read here is one tenant's; retention and the purge
// of deleted jobs, cross-tenant on purpose, are retention.ts and purge.ts. Runs leave as domain
// values (epoch-ms times); src/runs/json.ts writes them as the API answers them.
import type { Db } from "../db";
import { jobStates } from "../monitor/states";
import { BadRequest, Invalid, NotFound } from "../errors";
import type { CheckinKind } from "../checkins/writer";

export const RUN_STATUSES = ["running", "success", "failed", "timeout"] as const;
/** The statuses a run can have (a check-in with another one is a log line or the start of a finished run). */
export const VISIBLE = new Set<string>(RUN_STATUSES);

interface RunRow {
  id: number;
  tenant_id: string;
  job_id: string;
  kind: CheckinKind;
  status: string;
  rid: string | null;
  received_at: number;
  started_at: number | null;
  duration_ms: number | null;
  exit_code: number | null;
  body: string | null;
  truncated: number;
  source: string | null;
  reason: string | null;
  prev_id: number | null;
}

/** The job a run belongs to. */
export interface RunJob {
  id: string;
  namespace: string;
  name: string;
}

/** A run (or, in a job's full history, any check-in). Times are epoch milliseconds. */
export interface Run {
  id: number;
  kind: CheckinKind;
  job: RunJob;
  /** The UUID pairing a start with its finish. */
  run_id: string | null;
  /** One of RUN_STATUSES; in a job's full history also "log" or "closed" (the start of a finished run). */
  status: string;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  exit_code: number | null;
  reason: string | null;
  source: string | null;
  /** The output kept is the head and tail of a longer one. */
  output_truncated: boolean;
  /** The output, when the read asked for it (undefined otherwise). */
  output?: string | null;
}

export interface RunPage {
  runs: Run[];
  /** Where the next page starts; null on the last page. */
  next_cursor: string | null;
}

/** A change of a job's status. */
export interface Flip {
  id: number;
  from: string;
  to: string;
  reason: string;
  created_at: number;
}

function toRun(r: RunRow, job: RunJob, withOutput: boolean): Run {
  // A start is the run from its start; a timed-out one ended at its timeout.
  const isStart = r.kind === "start";
  return {
    id: r.id,
    kind: r.kind,
    job,
    run_id: r.rid,
    status: r.status,
    started_at: isStart ? r.received_at : r.started_at,
    finished_at: isStart ? (r.status === "timeout" && r.duration_ms !== null ? r.received_at + r.duration_ms : null) : r.received_at,
    duration_ms: r.duration_ms,
    exit_code: r.exit_code,
    reason: r.reason,
    source: r.source,
    output_truncated: r.truncated === 1,
    ...(withOutput ? { output: r.body } : {}),
  };
}

export interface RunFilter {
  jobId?: string;
  /** Only the runs of the jobs in this namespace. */
  namespace?: string;
  status?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
  /** Include each run's output (lists leave it out by default). */
  output?: boolean;
  /** Every check-in of a job: also log lines and the starts of finished runs. */
  all?: boolean;
}

function readTime(field: string, v: string | undefined): number | null {
  if (v === undefined) return null;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new Invalid(field, "expected an ISO 8601 time");
  return ms;
}

function readCursor(cursor: string | undefined): number | null {
  if (cursor === undefined) return null;
  if (!/^\d{1,15}$/.test(cursor)) throw new BadRequest("cursor: not a cursor this server gave out");
  return Number(cursor);
}

/** How many check-ins one request may walk before it hands back a cursor. */
const MAX_SCAN = 5_000;

/** Check-in rows by id, newest on top. */
class RowHeap {
  private readonly a: RunRow[] = [];
  peek(): RunRow | undefined {
    return this.a[0];
  }
  push(r: RunRow): void {
    const a = this.a;
    let i = a.push(r) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.id >= r.id) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = r;
  }
  pop(): RunRow | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1]!.id > a[l]!.id ? l + 1 : l;
        if (a[c]!.id <= last.id) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/** How many ids of the log below a cursor a tenant's page reads before it walks the chains instead. */
const LOG_WINDOW = 100_000;

/**
 * A tenant's page below a cursor, read from the log by id (the chains merged newest first are
 * the same rows in the same order). Far down, walking every job's chain from its head to the
 * cursor cost thousands of reads (80 ms and more, 100 pages deep on a 20-million-row log); the
 * log's next ids are one range read. True when the page filled (it then holds limit + 1 runs,
 * the last one where the next page starts); false leaves it to the chains (a tenant with few
 * check-ins among many).
 */
function pageFromLog(db: Db, tenantId: string, cursor: number, limit: number, wanted: (r: RunRow) => boolean, out: Run[], add: (r: RunRow) => void): boolean {
  const known = db.query<{ n: number }, [string, string]>("SELECT 1 AS n FROM jobs WHERE tenant_id = ? AND id = ?");
  const jobs = new Map<string, boolean>();
  const rows = db
    .query<RunRow, [number, number, string]>("SELECT * FROM checkins WHERE id <= ? AND id > ? AND tenant_id = ? ORDER BY id DESC")
    .iterate(cursor, cursor - LOG_WINDOW, tenantId);
  for (const r of rows) {
    if (!wanted(r)) continue;
    // Rows of a deleted job are not in any chain the merge walks.
    let exists = jobs.get(r.job_id);
    if (exists === undefined) jobs.set(r.job_id, (exists = known.get(tenantId, r.job_id) !== null));
    if (!exists) continue;
    add(r);
    if (out.length > limit) return true;
  }
  out.length = 0;
  return false;
}

/** Runs, newest first, a page at a time. */
export function listRuns(db: Db, tenantId: string, f: RunFilter): RunPage {
  const limit = f.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new Invalid("limit", "must be between 1 and 500");
  if (f.status !== undefined && !VISIBLE.has(f.status)) throw new Invalid("status", `must be one of ${RUN_STATUSES.join(", ")}`);
  const since = readTime("since", f.since);
  const until = readTime("until", f.until);
  const cursor = readCursor(f.cursor);
  // A namespace is a set of jobs: their chains are the only ones walked, their rows the only ones kept.
  const inNamespace =
    f.namespace === undefined
      ? null
      : new Set(db.query<{ id: string }, [string, string]>("SELECT id FROM jobs WHERE tenant_id = ? AND namespace = ?").all(tenantId, f.namespace).map((j) => j.id));
  const wanted = (r: RunRow) =>
    (inNamespace === null || inNamespace.has(r.job_id)) &&
    (f.all || VISIBLE.has(r.status)) &&
    (!f.status || r.status === f.status) &&
    (since === null || r.received_at >= since) &&
    (until === null || r.received_at < until);
  const jobs = new Map<string, RunJob>();
  const jobOf = (id: string) => {
    let j = jobs.get(id);
    if (!j) {
      j = db.query<RunJob, [string, string]>("SELECT id, namespace, name FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, id) ?? { id, namespace: "?", name: "?" };
      jobs.set(id, j);
    }
    return j;
  };
  const out: Run[] = [];
  const add = (r: RunRow) => out.push(toRun(r, jobOf(r.job_id), !!f.output));
  let next: number | null = null;

  // The tenant's check-in with this id (a chain never leaves its tenant, nor its job).
  const row = db.query<RunRow, [string, number]>("SELECT * FROM checkins WHERE tenant_id = ? AND id = ?");
  const jobRow = db.query<RunRow, [string, string, number]>("SELECT * FROM checkins WHERE tenant_id = ? AND job_id = ? AND id = ?");
  // The engine may have applied newer check-ins than the job row says yet.
  const states = jobStates(db);
  const headOf = (jobId: string, stored: number | null) => states.head(jobId, stored);

  if (f.jobId) {
    // Walk the job's chain from its head (or the cursor). The chain follows arrival, and a
    // result delivered late may be older than the ones after it: filter, never stop early.
    const head = db.query<{ last_checkin_id: number | null }, [string, string]>("SELECT last_checkin_id FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, f.jobId);
    let id = cursor ?? (head ? headOf(f.jobId, head.last_checkin_id) : null);
    for (let scanned = 0; id !== null; scanned++) {
      if (scanned === MAX_SCAN) {
        next = id;
        break;
      }
      const r = jobRow.get(tenantId, f.jobId, id);
      if (!r) break;
      if (wanted(r)) {
        // One more than the page: it is where the next page starts.
        if (out.length === limit) {
          next = r.id;
          break;
        }
        add(r);
      }
      id = r.prev_id;
    }
  } else if (cursor !== null && pageFromLog(db, tenantId, cursor, limit, wanted, out, add)) {
    // Below a cursor: the tenant's rows read straight from the log, newest first, filled the page.
    next = out.length > limit ? out.pop()!.id : null;
  } else {
    // Every job's chain, merged newest first: each job's newest check-in below the cursor
    // goes into a heap, and each one taken out brings in its predecessor.
    const heads = db
      .query<{ id: string; last_checkin_id: number | null }, [string]>("SELECT id, last_checkin_id FROM jobs WHERE tenant_id = ?")
      .all(tenantId)
      .filter((j) => inNamespace === null || inNamespace.has(j.id));
    const heap = new RowHeap();
    // One read per job to start with, and at most MAX_SCAN more to walk down to the cursor.
    let reads = -heads.length;
    let placed = true;
    place: for (const j of heads) {
      for (let id = headOf(j.id, j.last_checkin_id); id !== null; ) {
        if (++reads > MAX_SCAN && cursor !== null) {
          placed = false;
          break place;
        }
        const r = row.get(tenantId, id);
        if (!r) break;
        if (cursor === null || r.id <= cursor) {
          heap.push(r);
          break;
        }
        id = r.prev_id;
      }
    }
    if (placed) {
      reads = 0;
      for (let r = heap.pop(); r; r = heap.pop()) {
        if (wanted(r)) {
          if (out.length === limit) {
            next = r.id;
            break;
          }
          add(r);
        }
        const prev = r.prev_id !== null ? row.get(tenantId, r.prev_id) : null;
        if (prev) heap.push(prev);
        if (++reads >= MAX_SCAN) {
          // Out of budget: everything above the heap's newest is done.
          next = heap.peek()?.id ?? null;
          break;
        }
      }
    } else {
      // Far down the history (more than MAX_SCAN check-ins above the cursor): look at the next
      // MAX_SCAN ids of the log below the cursor instead, and hand back a cursor below them.
      const top = cursor!;
      const rows = db
        .query<RunRow, [number, number, string]>("SELECT * FROM checkins WHERE id <= ? AND id > ? AND tenant_id = ? ORDER BY id DESC")
        .all(top, top - MAX_SCAN, tenantId);
      next = top - MAX_SCAN;
      for (const r of rows) {
        if (!wanted(r)) continue;
        if (out.length === limit) {
          next = r.id;
          break;
        }
        add(r);
      }
    }
  }
  return { runs: out, next_cursor: next !== null && next > 0 ? String(next) : null };
}

/** One run, with its output. */
export function getRun(db: Db, tenantId: string, id: string): Run {
  const r = /^\d{1,15}$/.test(id) ? db.query<RunRow, [number, string]>("SELECT * FROM checkins WHERE id = ? AND tenant_id = ?").get(Number(id), tenantId) : null;
  if (!r || !VISIBLE.has(r.status)) throw new NotFound(`run ${id}`);
  const job = db.query<RunJob, [string, string]>("SELECT id, namespace, name FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, r.job_id);
  if (!job) throw new NotFound(`run ${id}`);
  return toRun(r, job, true);
}

/**
 * A run as the lists show it (no output), or null when the id is no run of the tenant (a log line,
 * a closed start, another tenant's check-in, a deleted job's). The live feed reads the runs it
 * announces through here.
 */
export function findRun(db: Db, tenantId: string, id: number): Run | null {
  // Two lookups by key: measured 2.5 µs against 23 µs for the same as one join.
  const r = db
    .query<Omit<RunRow, "body">, [number, string]>(
      `SELECT id, tenant_id, job_id, kind, status, rid, received_at, started_at, duration_ms, exit_code, truncated, source, reason, prev_id
       FROM checkins WHERE id = ? AND tenant_id = ?`,
    )
    .get(id, tenantId);
  if (!r || !VISIBLE.has(r.status)) return null;
  const job = db.query<RunJob, [string, string]>("SELECT id, namespace, name FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, r.job_id);
  return job && toRun({ ...r, body: null }, job, false);
}

/** A job's status changes, newest first. */
export function listFlips(db: Db, tenantId: string, jobId: string, limit = 100): Flip[] {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new Invalid("limit", "must be between 1 and 1000");
  return db
    .query<{ id: number; from_status: string; to_status: string; reason: string; created_at: number }, [string, string, number]>(
      "SELECT id, from_status, to_status, reason, created_at FROM flips WHERE tenant_id = ? AND job_id = ? ORDER BY id DESC LIMIT ?",
    )
    .all(tenantId, jobId, limit)
    .map((f) => ({ id: f.id, from: f.from_status, to: f.to_status, reason: f.reason, created_at: f.created_at }));
}

/** When a run began and ended, for drawing it on a time axis: one still running ends now; a finish reported without its start is an instant. */
export function runSpan(run: Run, now: number): { start: number; end: number } {
  const end = run.finished_at ?? (run.status === "running" ? Math.max(now, run.started_at ?? now) : (run.started_at ?? now));
  return { start: run.started_at ?? end, end };
}

/**
 * How far before a window a job's history is read for runs that reach into it. The chain follows
 * arrival, and a result delivered late (an agent's spool) carries the older time it happened: the
 * walk stops at the first check-in more than a day older than the window, so a run in the window
 * is left out only when a result delivered more than a day late arrived after it.
 */
const LATE_MS = 86_400_000;
/** How many check-ins of one job a window read walks at most. */
const WINDOW_SCAN = 5_000;

export interface WindowRuns {
  /** The runs that overlap the window, newest first. */
  runs: Run[];
  /** The window's runs are all here from this time on; older ones were left out. Null when none was. */
  complete_from: number | null;
  /** Why some were left out: more than `max` of them, or more check-ins after them than one read walks. */
  cut_by: "runs" | "history" | null;
}

/** A job's runs that overlap [from, to), newest first, at most `max` of them (the newest). */
export function jobRunsInWindow(db: Db, tenantId: string, jobId: string, from: number, to: number, now: number, max: number): WindowRuns {
  const job = db.query<RunJob & { last_checkin_id: number | null }, [string, string]>("SELECT id, namespace, name, last_checkin_id FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, jobId);
  if (!job) throw new NotFound("job");
  const ref: RunJob = { id: job.id, namespace: job.namespace, name: job.name };
  const jobRow = db.query<RunRow, [string, string, number]>("SELECT * FROM checkins WHERE tenant_id = ? AND job_id = ? AND id = ?");
  const runs: Run[] = [];
  let id = jobStates(db).head(jobId, job.last_checkin_id);
  for (let scanned = 0; id !== null; scanned++) {
    const r = jobRow.get(tenantId, jobId, id);
    if (!r) break;
    if (scanned === WINDOW_SCAN) return { runs, complete_from: Math.max(from, r.received_at), cut_by: "history" };
    if (VISIBLE.has(r.status)) {
      const run = toRun(r, ref, false);
      const { start, end } = runSpan(run, now);
      if (end >= from && start < to) {
        if (runs.length === max) return { runs, complete_from: Math.min(...runs.map((x) => runSpan(x, now).start)), cut_by: "runs" };
        runs.push(run);
      }
    }
    // Looked at first: a start from long before may still be running.
    if (r.received_at < from - LATE_MS) break;
    id = r.prev_id;
  }
  return { runs, complete_from: null, cut_by: null };
}
