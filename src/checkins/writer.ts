// The check-in write path: every check-in is appended to the `checkins` log, many per
// transaction (group commit), and its request is answered only after that commit.
// Nothing else happens on the request path; the engine applies the log in the background,
// handed the committed rows in memory (it reads the log itself only to catch up).
import { storageFault, type Db } from "../db";
import type { StorageStatus } from "../storage";
import type { Held } from "../monitor/states";

export type CheckinKind = "start" | "success" | "fail" | "log";

/**
 * Where a job's history ends, as the writer knows it: one object per job (`CheckinWriter.headOf`),
 * held by the writer and by whoever keeps the job at hand (the ping lookup's cache), so a
 * check-in that brings it along needs no search by job id on its way to the log and the engine.
 * With 10,000 busy jobs those searches were a tenth of the writer's and engine's cost.
 */
export interface Head {
  /** The newest committed check-in of the job; null when none was written since start. */
  id: number | null;
  /** During a flush: the newest id given to the job in the batch being written. */
  pending: number | null;
  /** The engine's state of the job, kept here by the engine; one that is `gone` is looked up again. */
  held: Held | null;
}

export interface CheckinEvent {
  tenant_id: string;
  job_id: string;
  /** The job's newest check-in id as the database knew it when the job was looked up. */
  last_checkin_id: number | null;
  kind: CheckinKind;
  exit_code: number | null;
  rid: string | null;
  received_at: number;
  started_at: number | null;
  duration_ms: number | null;
  body: string | null;
  truncated: boolean;
  source: string | null;
  /** "timeout": a wrapper killed the run at the job's timeout (kind fail). */
  timed_out?: boolean;
  /** The job's head (`CheckinWriter.headOf(job_id)`), when the caller keeps it; else it is looked up. */
  head?: Head;
}

/** A committed check-in as the engine applies it: the columns it reads from the log. */
export interface CheckinRow {
  id: number;
  job_id: string;
  kind: CheckinKind;
  status: string;
  exit_code: number | null;
  rid: string | null;
  received_at: number;
  started_at: number | null;
  duration_ms: number | null;
  /** The job's head, from the writer; absent on rows read back from the log. */
  head?: Head;
}

/** A check-in's status as written; the engine may judge a finish otherwise (e.g. too short). */
const STATUS_OF: Record<CheckinKind, string> = { start: "running", success: "success", fail: "failed", log: "log" };

const COLUMNS = "id, tenant_id, job_id, kind, status, exit_code, rid, received_at, started_at, duration_ms, body, truncated, source, prev_id";
/** Rows per INSERT statement: one statement for many rows saves most of the per-statement cost. */
const CHUNKS = [32, 8, 1] as const;

/**
 * The forms nearly every check-in takes (a ping: no run id, no times of its own, output not cut),
 * written with their constant columns as literals in the statement: half the values to bind per
 * row, a fifth of the cost of an append (measured: 3.0 -> 2.3 µs a row). Anything else goes
 * through the statement that binds every column.
 */
const SHAPES: readonly { kind: CheckinKind; exit: number | null }[] = [
  { kind: "success", exit: 0 },
  { kind: "start", exit: null },
  { kind: "fail", exit: null },
  { kind: "log", exit: null },
];
const sql = (v: string | number | null) => (v === null ? "NULL" : typeof v === "number" ? String(v) : `'${v}'`);
/** Per shape, then the full form: the values of one row as the statement lists them. */
const ROW_SQL = [
  ...SHAPES.map((f) => `(?,?,?,${sql(f.kind)},${sql(STATUS_OF[f.kind])},${sql(f.exit)},NULL,?,NULL,NULL,?,0,?,?)`),
  `(${Array(14).fill("?").join(",")})`,
];
const FULL = SHAPES.length;

/** The shape a check-in fits (an index into SHAPES), or FULL. */
function shapeOf(e: CheckinEvent): number {
  if (e.timed_out || e.rid !== null || e.started_at !== null || e.duration_ms !== null || e.truncated) return FULL;
  for (let i = 0; i < SHAPES.length; i++) {
    const f = SHAPES[i]!;
    if (f.kind === e.kind && f.exit === e.exit_code) return i;
  }
  return FULL;
}

/** The requests of one group commit: they share one promise, settled by its commit. */
interface Batch {
  events: CheckinEvent[];
  done: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function newBatch(): Batch {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  // A batch nobody awaits any more (its requests gone) must not be an unhandled rejection.
  promise.catch(() => {});
  return { events: [], done: promise, resolve, reject };
}

export class CheckinWriter {
  private queue: Batch | null = null;
  /** Each job's head: each new row links to the newest one written (prev_id), so a job's
   *  history is a chain read by rowid and the append needs no index on the job. */
  private readonly heads = new Map<string, Head>();
  private scheduled = false;
  /** Per shape (SHAPES, then the full form), per chunk size. */
  private readonly inserts: Map<number, ReturnType<Db["query"]>>[];
  /** Writes one batch, grouped by shape, in one transaction. */
  private readonly insert: (batch: CheckinEvent[], rows: CheckinRow[], groups: number[][], prevs: (number | null)[]) => void;
  /**
   * The id the next check-in gets. Ids are given here, never by SQLite: they only grow, even
   * when retention has deleted every row (SQLite would hand out the ids of deleted rows again,
   * and the engine, already past them, would skip those check-ins).
   */
  private nextId: number;
  /** Told of every committed batch, in id order (the engine). */
  onCommit: ((rows: CheckinRow[]) => void) | null = null;
  /** Called after each batch is answered (the WAL guard). */
  afterCommit: (() => void) | null = null;
  /** Check-ins committed since start, for /metrics. */
  committed = 0;
  batches = 0;

  constructor(
    private readonly db: Db,
    /** Told of storage faults and of the commit that succeeds after them (/health reads it). */
    private readonly storage: StorageStatus | null = null,
  ) {
    // Made once: db.transaction() builds a wrapper (and defines its variants) on every call.
    this.insert = db.transaction((batch: CheckinEvent[], rows: CheckinRow[], groups: number[][], prevs: (number | null)[]) => {
      const params: (string | number | null)[] = [];
      for (let g = 0; g < groups.length; g++) {
        const group = groups[g]!;
        const inserts = this.inserts[g]!;
        let i = 0;
        for (const size of CHUNKS) {
          for (; group.length - i >= size; i += size) {
            params.length = 0;
            for (let n = i; n < i + size; n++) {
              const k = group[n]!;
              const e = batch[k]!;
              const r = rows[k]!;
              if (g === FULL) {
                params.push(r.id, e.tenant_id, e.job_id, e.kind, r.status, e.exit_code, e.rid, e.received_at, e.started_at, e.duration_ms, e.body, e.truncated ? 1 : 0, e.source, prevs[k]!);
              } else params.push(r.id, e.tenant_id, e.job_id, e.received_at, e.body, e.source, prevs[k]!);
            }
            inserts.get(size)!.run(...params);
          }
        }
      }
    });
    this.inserts = ROW_SQL.map((row) => new Map(CHUNKS.map((n) => [n, db.query(`INSERT INTO checkins (${COLUMNS}) VALUES ${Array(n).fill(row).join(",")}`)])));
    // Retention deletes only rows the engine's cursor has passed, so the newest row and the
    // cursor bound every id handed out before (job rows' last_checkin_id included).
    const cursor = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()!.value;
    const top = db.query<{ n: number | null }, []>("SELECT max(id) AS n FROM checkins").get()!.n ?? 0;
    this.nextId = Math.max(top, cursor) + 1;
    // A job row is written back up to a few seconds after its check-ins, so after a crash it may
    // name an older head than the log has. Every check-in a job row may not reflect yet lies
    // past the engine's cursor: the chains go on from the newest of those.
    for (const r of db.query<{ job_id: string; id: number }, [number]>("SELECT job_id, max(id) AS id FROM checkins WHERE id > ? GROUP BY job_id").iterate(cursor)) {
      this.headOf(r.job_id).id = r.id;
    }
  }

  /** The job's head: the same object for as long as this writer lives. */
  headOf(jobId: string): Head {
    let h = this.heads.get(jobId);
    if (!h) {
      h = { id: null, pending: null, held: null };
      this.heads.set(jobId, h);
    }
    return h;
  }

  /** Resolves once the check-in is committed. */
  append(event: CheckinEvent): Promise<void> {
    const batch = (this.queue ??= newBatch());
    batch.events.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      // Everything that arrives in this turn of the event loop and the next shares one
      // commit: under load, waiting one more turn makes batches half as large again (32 -> 45
      // check-ins with 50 clients) for a few microseconds of latency.
      setImmediate(() => setImmediate(() => this.flush()));
    }
    return batch.done;
  }

  flush(): void {
    this.scheduled = false;
    const pending = this.queue;
    if (pending === null) return;
    this.queue = null;
    const batch = pending.events;
    // Heads and ids move only once the batch is committed.
    const rows: (CheckinRow & { head: Head })[] = new Array(batch.length);
    const first = this.nextId;
    // Rows grouped by shape; each row's id and link are fixed here, in arrival order.
    const groups: number[][] = ROW_SQL.map(() => []);
    const prevs: (number | null)[] = new Array(batch.length);
    for (let k = 0; k < batch.length; k++) {
      const e = batch[k]!;
      const id = first + k;
      const status = e.timed_out ? "timeout" : STATUS_OF[e.kind];
      const head = e.head ?? this.headOf(e.job_id);
      prevs[k] = head.pending ?? head.id ?? e.last_checkin_id;
      head.pending = id;
      groups[shapeOf(e)]!.push(k);
      rows[k] = { head, id, job_id: e.job_id, kind: e.kind, status, exit_code: e.exit_code, rid: e.rid, received_at: e.received_at, started_at: e.started_at, duration_ms: e.duration_ms };
    }
    try {
      this.insert(batch, rows, groups, prevs);
    } catch (err) {
      // Disk full, an I/O error, a read-only file: nothing of the batch is stored; each request
      // is answered 503 with Retry-After, and /health says degraded until a commit succeeds.
      for (const r of rows) r.head.pending = null;
      const fault = storageFault(err);
      if (fault) this.storage?.failed(fault, Date.now());
      pending.reject(fault ?? err);
      return;
    }
    this.storage?.succeeded();
    this.nextId = first + batch.length;
    for (const { head } of rows) {
      if (head.pending === null) continue;
      head.id = head.pending;
      head.pending = null;
    }
    this.committed += batch.length;
    this.batches++;
    this.onCommit?.(rows);
    pending.resolve();
    this.afterCommit?.();
  }
}
