// Runs are check-ins: a finish (success or failure, paired with its start when there was one),
// or a start still running or timed out. A job's history is the chain of its check-ins
// (checkins.prev_id, linked by the writer), read by rowid from the newest check-in the engine
// applied; the tenant's is its jobs' chains merged newest first. The log has no index on
// tenant or job: appending stays cheap.
import type { Db } from "../db";
import { jobStates } from "../monitor/states";
import { BadRequest, Invalid, NotFound } from "../errors";
import { isoTime } from "../time";

export const RUN_STATUSES = ["running", "success", "failed", "timeout"] as const;
const VISIBLE = new Set<string>(RUN_STATUSES);

interface RunRow {
  id: number;
  tenant_id: string;
  job_id: string;
  kind: string;
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

const iso = (ms: number | null) => isoTime(ms);

function runJson(r: RunRow, job: { namespace: string; name: string }, withOutput: boolean) {
  const isStart = r.kind === "start";
  return {
    id: r.id,
    kind: r.kind,
    job: `${job.namespace}/${job.name}`,
    job_id: r.job_id,
    run_id: r.rid,
    status: r.status,
    started_at: iso(isStart ? r.received_at : r.started_at),
    finished_at: isStart ? (r.status === "timeout" && r.duration_ms !== null ? iso(r.received_at + r.duration_ms) : null) : iso(r.received_at),
    duration_ms: r.duration_ms,
    exit_code: r.exit_code,
    reason: r.reason,
    source: r.source,
    output_truncated: r.truncated === 1,
    ...(withOutput ? { output: r.body } : {}),
  };
}

export type RunJson = ReturnType<typeof runJson>;

export interface RunFilter {
  jobId?: string;
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
function pageFromLog(db: Db, tenantId: string, cursor: number, limit: number, wanted: (r: RunRow) => boolean, out: RunJson[], add: (r: RunRow) => void): boolean {
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
export function listRuns(db: Db, tenantId: string, f: RunFilter): { runs: RunJson[]; next_cursor: string | null } {
  const limit = f.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new Invalid("limit", "must be between 1 and 500");
  if (f.status !== undefined && !VISIBLE.has(f.status)) throw new Invalid("status", `must be one of ${RUN_STATUSES.join(", ")}`);
  const since = readTime("since", f.since);
  const until = readTime("until", f.until);
  const cursor = readCursor(f.cursor);
  const wanted = (r: RunRow) =>
    (f.all || VISIBLE.has(r.status)) &&
    (!f.status || r.status === f.status) &&
    (since === null || r.received_at >= since) &&
    (until === null || r.received_at < until);
  const names = new Map<string, { namespace: string; name: string }>();
  const jobOf = (id: string) => {
    let n = names.get(id);
    if (!n) {
      n = db.query<{ namespace: string; name: string }, [string, string]>("SELECT namespace, name FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, id) ?? { namespace: "?", name: "?" };
      names.set(id, n);
    }
    return n;
  };
  const out: RunJson[] = [];
  let next: number | null = null;

  const row = db.query<RunRow, [number]>("SELECT * FROM checkins WHERE id = ?");
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
      const r = row.get(id);
      if (!r || r.tenant_id !== tenantId || r.job_id !== f.jobId) break;
      if (wanted(r)) {
        // One more than the page: it is where the next page starts.
        if (out.length === limit) {
          next = r.id;
          break;
        }
        out.push(runJson(r, jobOf(r.job_id), !!f.output));
      }
      id = r.prev_id;
    }
  } else if (cursor !== null && pageFromLog(db, tenantId, cursor, limit, wanted, out, (r) => out.push(runJson(r, jobOf(r.job_id), !!f.output)))) {
    // Below a cursor: the tenant's rows read straight from the log, newest first, filled the page.
    next = out.length > limit ? out.pop()!.id : null;
  } else {
    // Every job's chain, merged newest first: each job's newest check-in below the cursor
    // goes into a heap, and each one taken out brings in its predecessor.
    const jobs = db.query<{ id: string; last_checkin_id: number | null }, [string]>("SELECT id, last_checkin_id FROM jobs WHERE tenant_id = ?").all(tenantId);
    const heap = new RowHeap();
    // One read per job to start with, and at most MAX_SCAN more to walk down to the cursor.
    let reads = -jobs.length;
    let placed = true;
    place: for (const j of jobs) {
      for (let id = headOf(j.id, j.last_checkin_id); id !== null; ) {
        if (++reads > MAX_SCAN && cursor !== null) {
          placed = false;
          break place;
        }
        const r = row.get(id);
        if (!r || r.tenant_id !== tenantId) break;
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
          out.push(runJson(r, jobOf(r.job_id), !!f.output));
        }
        const prev = r.prev_id !== null ? row.get(r.prev_id) : null;
        if (prev && prev.tenant_id === tenantId) heap.push(prev);
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
        out.push(runJson(r, jobOf(r.job_id), !!f.output));
      }
    }
  }
  return { runs: out, next_cursor: next !== null && next > 0 ? String(next) : null };
}

export function getRun(db: Db, tenantId: string, id: string): RunJson {
  const r = /^\d{1,15}$/.test(id) ? db.query<RunRow, [number, string]>("SELECT * FROM checkins WHERE id = ? AND tenant_id = ?").get(Number(id), tenantId) : null;
  if (!r || !VISIBLE.has(r.status)) throw new NotFound(`run ${id}`);
  const job = db.query<{ namespace: string; name: string }, [string, string]>("SELECT namespace, name FROM jobs WHERE tenant_id = ? AND id = ?").get(tenantId, r.job_id);
  if (!job) throw new NotFound(`run ${id}`);
  return runJson(r, job, true);
}

export function listFlips(db: Db, tenantId: string, jobId: string, limit = 100) {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new Invalid("limit", "must be between 1 and 1000");
  return db
    .query<{ id: number; from_status: string; to_status: string; reason: string; created_at: number }, [string, string, number]>(
      "SELECT id, from_status, to_status, reason, created_at FROM flips WHERE tenant_id = ? AND job_id = ? ORDER BY id DESC LIMIT ?",
    )
    .all(tenantId, jobId, limit)
    .map((f) => ({ id: f.id, from: f.from_status, to: f.to_status, reason: f.reason, created_at: iso(f.created_at) }));
}

/**
 * Check-ins past their tenant's retention, oldest first through the whole log (it has no index
 * on tenant: appends stay cheap). Ids follow arrival, so a pass stops at the first row every
 * tenant keeps; rows of tenants that keep longer are stepped over and the place is remembered
 * (engine_state 'prune_from'), so a pass cut short goes on from there next time.
 * Rows of tenants that no longer exist go once they are older than the shortest retention.
 * One step (yield) per page of the log, each its own short transaction.
 */
function* pruneLog(db: Db, cutoffs: Map<string, number>, applied: number, out: PruneResult): Generator<void, void> {
  let newestCutoff = -Infinity;
  for (const c of cutoffs.values()) newestCutoff = Math.max(newestCutoff, c);
  const position = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'prune_from'");
  const savePosition = db.query("INSERT INTO engine_state (key, value) VALUES ('prune_from', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  const page = db.query<{ id: number; tenant_id: string; received_at: number; status: string }, [number, number]>(
    "SELECT id, tenant_id, received_at, status FROM checkins WHERE id > ? AND id <= ? ORDER BY id LIMIT 1000",
  );
  const del = db.query("DELETE FROM checkins WHERE id = ?");
  let from = position.get()?.value ?? 0;
  for (let more = true; more; ) {
    db.transaction(() => {
      const rows = page.all(from, applied);
      more = rows.length === 1000;
      for (const r of rows) {
        if (r.received_at >= newestCutoff) {
          // Every tenant keeps this one and (nearly) all after it: the next pass starts over.
          more = false;
          break;
        }
        if (r.status !== "running" && r.received_at < (cutoffs.get(r.tenant_id) ?? Infinity)) {
          del.run(r.id);
          out.checkins++;
        }
        from = r.id;
      }
      // Saved with the step: a pass cut short (or a restart) goes on from here.
      savePosition.run(more ? from : 0);
    })();
    if (more) yield;
  }
}

export interface PruneResult {
  checkins: number;
  flips: number;
  notifications: number;
}

/**
 * One retention pass as a series of short steps, each its own transaction: the generator
 * yields between them, so whoever drives it decides how long the server is held up at a time.
 * The flips and notifications go with the first step of the log.
 */
function* prunePass(db: Db, now: number, out: PruneResult): Generator<void, void> {
  const applied = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()!.value;
  const del = db.query("DELETE FROM checkins WHERE id = ?");
  const tenants = db.query<{ id: string; retention_days: number; retention_runs: number }, []>("SELECT id, retention_days, retention_runs FROM tenants").all();
  const cutoffs = new Map(tenants.map((t) => [t.id, now - t.retention_days * 86_400_000]));
  for (const t of tenants) {
    const cutoff = cutoffs.get(t.id)!;
    db.transaction(() => {
      out.flips += db.query("DELETE FROM flips WHERE tenant_id = ? AND created_at < ?").run(t.id, cutoff).changes;
      out.notifications += db.query("DELETE FROM notifications WHERE tenant_id = ? AND created_at < ? AND status != 'pending'").run(t.id, cutoff).changes;
    })();
  }
  yield* pruneLog(db, cutoffs, applied, out);
  for (const t of tenants) {
    // Per job: keep the newest retention_runs runs of each chain; cut the rest.
    const jobs = db
      .query<{ id: string; last_checkin_id: number }, [string, number]>(
        "SELECT id, last_checkin_id FROM jobs WHERE tenant_id = ? AND last_checkin_id IS NOT NULL AND checkins_total > ?",
      )
      .all(t.id, t.retention_runs);
    const link = db.query<{ prev_id: number | null; status: string }, [number]>("SELECT prev_id, status FROM checkins WHERE id = ?");
    for (const j of jobs) {
      yield;
      // The tail below the newest retention_runs runs, cut off the chain first.
      let id = db.transaction((): number | null => {
        let id: number | null = j.last_checkin_id;
        let kept = 0;
        let last: number | null = null;
        while (id !== null && kept < t.retention_runs) {
          const r = link.get(id);
          if (!r) return null;
          if (VISIBLE.has(r.status)) kept++;
          last = id;
          id = r.prev_id;
        }
        if (last === null || id === null) return null;
        db.query("UPDATE checkins SET prev_id = NULL WHERE id = ?").run(last);
        return id;
      })();
      // Then deleted 100 rows a step: a busy job's tail can be hundreds of thousands of
      // rows, far too many for one transaction between two requests. (A pass stopped half-way
      // leaves the rest of a cut tail to age-based retention.)
      while (id !== null) {
        id = db.transaction((): number | null => {
          let at: number | null = id;
          for (let n = 0; at !== null && n < 100; n++) {
            const r = link.get(at);
            if (!r) return null;
            if (r.status !== "running") {
              del.run(at);
              out.checkins++;
            }
            at = r.prev_id;
          }
          return at;
        })();
        if (id !== null) yield;
      }
    }
  }
}

/**
 * Retention, per tenant: check-ins older than retention_days, each job's runs beyond its newest
 * retention_runs, and flips and finished notifications older than retention_days. Runs steps
 * for at most `budgetMs` (at least one step of the log), so a large backlog never holds the
 * caller up for long; the log's place is kept for the next call.
 */
export function pruneHistory(db: Db, now: number, budgetMs = 200): PruneResult {
  const out: PruneResult = { checkins: 0, flips: 0, notifications: 0 };
  const started = performance.now();
  const pass = prunePass(db, now, out);
  for (let step = pass.next(); !step.done && performance.now() - started < budgetMs; step = pass.next());
  pass.return();
  return out;
}

/** How the server paces retention on its event loop. */
export interface PrunerOptions {
  /** How long one slice of steps may hold the event loop. */
  sliceMs?: number;
  /** The pause between slices while a pass has more to do (the server answers in it). */
  gapMs?: number;
  /** Time between passes. */
  everyMs?: number;
  /** The first pass after start (default: everyMs). */
  firstMs?: number;
  /** How soon a pass starts after soon() (several changes in a row make one pass). */
  soonMs?: number;
  /** True while the server would rather not write more (e.g. the WAL is over its limit): the pass waits. */
  busy?: () => boolean;
}

/**
 * Runs retention passes in the server: every `everyMs`, and a pass goes on in slices of at most
 * `sliceMs`, `gapMs` apart, until it is done, however much is due. One pass at 200 ms each ten
 * minutes held every request up for 200 ms at a time and took a day for a backlog of millions
 * of rows (after retention_days was lowered); in slices it holds nothing up for more than a few
 * milliseconds and deletes a quarter of a 20-million-row log in minutes.
 */
export class Pruner {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pass: Generator<void, void> | null = null;
  private result: PruneResult = { checkins: 0, flips: 0, notifications: 0 };
  private passStarted = 0;
  private readonly sliceMs: number;
  private readonly gapMs: number;
  private readonly everyMs: number;
  private readonly busy: () => boolean;
  private readonly soonMs: number;
  private dueAt = Infinity;
  private stopped = false;
  /** Called after each slice that wrote (the WAL guard checkpoints between writes). */
  afterSlice: () => void = () => {};
  /** Called when a pass ends, with what it deleted and how long it took. */
  onPass: (r: PruneResult, ms: number) => void = () => {};
  onError: (e: unknown) => void = () => {};

  constructor(private readonly db: Db, private readonly now: () => number, opts: PrunerOptions = {}) {
    this.sliceMs = opts.sliceMs ?? 2;
    this.gapMs = opts.gapMs ?? 12;
    this.everyMs = opts.everyMs ?? 10 * 60_000;
    this.busy = opts.busy ?? (() => false);
    this.soonMs = opts.soonMs ?? 2000;
    this.schedule(opts.firstMs ?? this.everyMs);
  }

  /** A pass soon (retention was lowered): unless one is running or already due sooner. */
  soon(): void {
    if (this.pass || this.stopped || this.dueAt <= performance.now() + this.soonMs) return;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(this.soonMs);
  }

  private schedule(ms: number): void {
    this.dueAt = performance.now() + ms;
    this.timer = setTimeout(() => this.slice(), ms);
  }

  private slice(): void {
    this.timer = null;
    const started = performance.now();
    try {
      if (!this.pass) {
        this.result = { checkins: 0, flips: 0, notifications: 0 };
        this.passStarted = started;
        this.pass = prunePass(this.db, this.now(), this.result);
      }
      // Deleting writes as much WAL as it deletes: wait while the log is over its limit, so
      // retention goes no faster than checkpoints copy it back.
      if (this.busy()) return this.schedule(this.gapMs);
      let step = this.pass.next();
      while (!step.done && performance.now() - started < this.sliceMs) step = this.pass.next();
      this.afterSlice();
      if (!step.done) return this.schedule(this.gapMs);
      this.pass = null;
      this.onPass(this.result, performance.now() - this.passStarted);
    } catch (e) {
      this.pass = null;
      this.onError(e);
    }
    this.schedule(this.everyMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pass?.return();
    this.pass = null;
  }
}

/**
 * A job was deleted: its check-ins go after it, walked down its chain from `head` (the newest
 * check-in applied) by the background purge, then looked for among the ids the engine had
 * not applied yet. Run in the transaction that deletes the job.
 */
export function queueJobPurge(db: Db, tenantId: string, jobId: string, head: number | null): void {
  const applied = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()?.value ?? 0;
  db.query(
    `INSERT INTO deleted_jobs (job_id, tenant_id, head_id, scan_from, scan_to) VALUES (?, ?, ?, ?, NULL)
     ON CONFLICT (job_id) DO UPDATE SET head_id = excluded.head_id, scan_from = excluded.scan_from, scan_to = NULL`,
  ).run(jobId, tenantId, head, applied);
}

/** Ids looked through per step for a deleted job's check-ins the engine had not applied. */
const PURGE_SCAN = 2000;

/**
 * One bounded step of the purge of deleted jobs' check-ins: at most `rows` rows deleted and
 * PURGE_SCAN ids looked through, in one short transaction, so pings waiting for the writer's
 * next commit are never held up for long. Only rows the engine has applied are deleted (the
 * writer and the engine count on the newer ones); the rest wait for a later step. Returns the
 * rows deleted plus the ids looked through; 0 when there is nothing to do now.
 */
export function purgeSlice(db: Db, rows = 200): number {
  let work = 0;
  db.transaction(() => {
    const applied = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()?.value ?? 0;
    const jobs = db.query<{ job_id: string; tenant_id: string; head_id: number | null; scan_from: number; scan_to: number | null }, []>(
      "SELECT job_id, tenant_id, head_id, scan_from, scan_to FROM deleted_jobs LIMIT 10",
    ).all();
    const link = db.query<{ job_id: string; tenant_id: string; prev_id: number | null }, [number]>("SELECT job_id, tenant_id, prev_id FROM checkins WHERE id = ?");
    const del = db.query("DELETE FROM checkins WHERE id = ?");
    for (const j of jobs) {
      if (work >= rows) break;
      // The chain, newest first.
      let id = j.head_id;
      while (id !== null && id <= applied && work < rows) {
        const r = link.get(id);
        // Gone already (retention), or no longer this job's: the chain ends here.
        if (!r || r.job_id !== j.job_id || r.tenant_id !== j.tenant_id) id = null;
        else {
          del.run(id);
          work++;
          id = r.prev_id;
        }
      }
      if (id !== null) {
        db.query("UPDATE deleted_jobs SET head_id = ? WHERE job_id = ?").run(id, j.job_id);
        continue;
      }
      // Then the ids the engine had not applied when the job went, up to the newest id now.
      const top = j.scan_to ?? db.query<{ top: number | null }, []>("SELECT max(id) AS top FROM checkins").get()?.top ?? 0;
      const upTo = Math.min(top, applied, j.scan_from + PURGE_SCAN);
      if (upTo > j.scan_from) {
        work += db.query("DELETE FROM checkins WHERE id > ? AND id <= ? AND job_id = ? AND tenant_id = ?").run(j.scan_from, upTo, j.job_id, j.tenant_id).changes;
        work += Math.ceil((upTo - j.scan_from) / 10);
      }
      const from = Math.max(j.scan_from, upTo);
      if (from >= top) db.query("DELETE FROM deleted_jobs WHERE job_id = ?").run(j.job_id);
      else db.query("UPDATE deleted_jobs SET head_id = NULL, scan_from = ?, scan_to = ? WHERE job_id = ?").run(from, top, j.job_id);
    }
  })();
  return work;
}

/**
 * Runs purgeSlice in the background: every `everyMs` while there is work, one slice at a time
 * with a pause between them (the event loop serves pings and commits in between).
 */
export function startPurger(db: Db, onError: (e: unknown) => void, everyMs = 1000, pauseMs = 5): { stop(): void } {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const step = (delay: number) => {
    if (!stopped) timer = setTimeout(run, delay);
  };
  const run = () => {
    let n = 0;
    try {
      n = purgeSlice(db);
    } catch (e) {
      onError(e);
    }
    step(n > 0 ? pauseMs : everyMs);
  };
  step(everyMs);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
