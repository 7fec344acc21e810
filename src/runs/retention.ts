// Retention: cross-tenant on purpose. One pass walks the whole check-in log (it has no index on
// tenant) and every tenant's jobs, cutting each tenant's history to its own retention_days and
// retention_runs. Nothing here answers a tenant's request; the server runs it in the background.
import type { Db } from "../db";
import { VISIBLE } from "./runs";

/** Rows of the log one step looks at: one range DELETE of these takes about a millisecond. */
export const LOG_STEP_ROWS = 500;

/** A table retention cuts by age, oldest first by id (ids follow the time of what they record). */
interface AgedTable {
  table: "checkins" | "flips" | "notifications";
  /** The column holding when a row happened. */
  time: "received_at" | "created_at";
  /** Rows kept whatever their age: an open run, a notification still to send. */
  keep: string;
  /** engine_state's key for where a pass cut short goes on. */
  position: string;
  /** What the pass adds the rows it deleted to. */
  counter: keyof PruneResult;
}

const AGED: readonly AgedTable[] = [
  { table: "flips", time: "created_at", keep: "0", position: "prune_flips_from", counter: "flips" },
  { table: "notifications", time: "created_at", keep: "status = 'pending'", position: "prune_notifications_from", counter: "notifications" },
  { table: "checkins", time: "received_at", keep: "status = 'running'", position: "prune_from", counter: "checkins" },
];

/**
 * Rows past their tenant's retention, oldest first through the whole table (the log has no index
 * on tenant: appends stay cheap; flips and notifications go the same way, so that no step scans a
 * table whole). Ids follow arrival, so a pass stops at the first row every tenant keeps; rows of
 * tenants that keep longer are stepped over and the place is remembered (engine_state), so a
 * pass cut short goes on from there next time. Rows of tenants that no longer exist go once they
 * are older than the shortest retention. One step (yield) per LOG_STEP_ROWS rows, each its own
 * short transaction and one range DELETE (a statement per row cost several times as much, and
 * one DELETE per tenant over flips read the whole table a hundred times in one step: 65 ms).
 * `upTo` bounds the ids looked at (for the log: the engine's cursor).
 */
function* pruneAged(db: Db, t: AgedTable, newestCutoff: number, upTo: number, out: PruneResult): Generator<void, void> {
  const position = db.query<{ value: number }, [string]>("SELECT value FROM engine_state WHERE key = ?");
  const savePosition = db.query("INSERT INTO engine_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  // The step's last id, and the first row in it that every tenant keeps (where the pass ends).
  const span = db.query<{ top: number | null; kept: number | null; n: number }, [number, number, number, number]>(
    `SELECT max(id) AS top, min(CASE WHEN ${t.time} >= ?1 THEN id END) AS kept, count(*) AS n
       FROM (SELECT id, ${t.time} FROM ${t.table} WHERE id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4)`,
  );
  const del = db.query(
    `DELETE FROM ${t.table} WHERE id > ?1 AND id <= ?2 AND NOT (${t.keep})
       AND ${t.time} < ifnull((SELECT cutoff FROM temp.prune_cutoffs c WHERE c.tenant_id = ${t.table}.tenant_id), ?3)`,
  );
  let from = position.get(t.position)?.value ?? 0;
  for (let more = true; more; ) {
    db.transaction(() => {
      const s = span.get(newestCutoff, from, upTo, LOG_STEP_ROWS)!;
      more = s.n === LOG_STEP_ROWS;
      let to = s.top ?? from;
      if (s.kept !== null) {
        // Every tenant keeps this one and (nearly) all after it: the next pass starts over.
        more = false;
        to = s.kept - 1;
      }
      if (to > from) out[t.counter] += del.run(from, to, newestCutoff).changes;
      from = to;
      // Saved with the step: a pass cut short (or a restart) goes on from here.
      savePosition.run(t.position, more ? from : 0);
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
 * Flips and notifications are cut the same way as the log, a step at a time, before it.
 */
function* prunePass(db: Db, now: number, out: PruneResult): Generator<void, void> {
  const applied = db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()!.value;
  const del = db.query("DELETE FROM checkins WHERE id = ?");
  const tenants = db.query<{ id: string; retention_days: number; retention_runs: number }, []>("SELECT id, retention_days, retention_runs FROM tenants").all();
  if (tenants.length > 0) {
    const cutoffs = tenants.map((t) => now - t.retention_days * 86_400_000);
    const newestCutoff = Math.max(...cutoffs);
    // The cutoffs where the DELETEs can join them: a temporary table is this connection's own and
    // writes nothing to the WAL.
    db.exec("CREATE TEMP TABLE IF NOT EXISTS prune_cutoffs (tenant_id TEXT PRIMARY KEY, cutoff INTEGER NOT NULL) WITHOUT ROWID");
    db.transaction(() => {
      db.exec("DELETE FROM temp.prune_cutoffs");
      const put = db.query("INSERT INTO temp.prune_cutoffs (tenant_id, cutoff) VALUES (?, ?)");
      tenants.forEach((t, i) => put.run(t.id, cutoffs[i]!));
    })();
    for (const t of AGED) yield* pruneAged(db, t, newestCutoff, t.table === "checkins" ? applied : Number.MAX_SAFE_INTEGER, out);
  }
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
