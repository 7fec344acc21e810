// The monitoring engine. Check-ins are applied as soon as the writer has committed them, before
// their requests are answered (applyCommitted), so every read that follows sees them; a tick
// times out runs that ran too long and fires job deadlines (late, down, reminders). Each pass
// runs in one transaction, writing flips and queueing notifications with the status it moved.
// The state itself is owned by JobStates (states.ts). A crash loses nothing: the durable cursor
// only passes check-ins whose effects are all in the database, and the log after it is applied
// again at start, skipping what each job row already reflects.
import type { Db } from "../db";
import type { Logger } from "../log";
import { judgeRun, onDeadline, onFinish, onStart, type Flip } from "./state";
import type { CheckinRow } from "../checkins/writer";
import { AlertFanOut } from "../alerts/fanout";
import type { AlertEvent } from "../alerts/message";
import { fireAgentDeadlinesAllTenants, foldedInto } from "../agents/liveness";
import { jobStates, type Held, type JobStates } from "./states";
import { eventHub, type EventHub } from "../events/hub";

interface OpenRun {
  id: number;
  received_at: number;
}

export interface TickStats {
  checkins: number;
  timeouts: number;
  deadlines: number;
  flips: number;
  notifications: number;
  /** True when more check-ins are waiting, or more deadlines are due, than one pass takes: the next pass comes at once. */
  behind: boolean;
}

const MAX_CHECKINS_PER_TICK = 20_000;
/**
 * Deadlines one pass fires at most, and for how long: a pass holds the event loop, and at a
 * schedule's fire time every job on it falls due at once (10,000 jobs on one cron schedule held
 * every ping up for 114 ms at each fire time, in one pass). The rest go in the passes right after,
 * with the requests that came meanwhile answered in between.
 */
const MAX_DEADLINES_PER_TICK = 500;
const DEADLINE_BUDGET_MS = 4;
/**
 * How long a busy job's counters may stay in memory before the sweep writes its row back (status
 * changes are written at once). Every read goes through JobStates, so this bounds only what a
 * crash replays from the log and how stale the stored columns that lists sort by may be. Each
 * write-back rewrites a whole row of the wide jobs table: at 10,000 busy jobs, once a second cost
 * 8% of the check-in throughput; every 3 s a third of that.
 */
export const WRITE_BACK_MS = 3000;
/** How often the write-back sweep moves on (urgent write-backs go with the change). */
const SWEEP_STEP_MS = 100;

export interface EngineContext {
  db: Db;
  log: Logger;
  baseUrl: string;
  now: () => number;
}

export class Engine {
  private timer: ReturnType<typeof setTimeout> | null = null;
  readonly states: JobStates;
  /** The live event stream: told of status changes (they go first) and of the runs a tick times out; check-ins reach it through JobStates. */
  private readonly events: EventHub;
  /** Queues alerts; made anew each tick, so that a tenant's channels are looked up once a tick. */
  private alerts: AlertFanOut;
  /** The newest check-in applied in memory (the database's cursor may be behind it). */
  private appliedThrough: number;
  /** The earliest deadline among jobs held but not written back (the query cannot see them). */
  private dirtyDeadline = Infinity;
  /** The cursor as the database has it. */
  private savedCursor: number;
  /** The write-back sweep: where it is in rowid order, when it last moved. */
  private sweepAt = 0;
  /** How long one pass may fire deadlines: bounded once the engine runs in the server (start). */
  private deadlineBudgetMs = Infinity;
  private lastSweep: number | null = null;
  flushMs = WRITE_BACK_MS;
  private stopped = true;
  private lastFailureLog = -Infinity;
  private readonly q;
  /** Called after a pass that queued notifications (the dispatcher's kick). */
  onNotify: () => void = () => {};
  /** Engine-wide figures for /metrics. */
  readonly totals = { ticks: 0, checkins: 0, flips: 0, notifications: 0, last_tick_ms: 0 };

  /** applyCommitted's transaction, once a group commit. */
  private readonly applyInTransaction: (rows: CheckinRow[], stats: TickStats) => void;

  constructor(private readonly ctx: EngineContext) {
    // Made once: db.transaction() builds a wrapper (and defines its variants) on every call.
    this.applyInTransaction = ctx.db.transaction((rows: CheckinRow[], stats: TickStats) => {
      // Behind (check-ins from before a restart or a failed pass): the log holds these rows
      // too, so apply it in order until they are reached; applyCheckins skips what is done.
      while (this.appliedThrough < rows[0]!.id - 1) {
        const older = this.q.checkins.all(this.appliedThrough, MAX_CHECKINS_PER_TICK);
        if (older.length === 0) break;
        this.applyCheckins(older, stats);
      }
      this.applyCheckins(rows, stats);
      this.states.flushUrgent();
    });
    const db = ctx.db;
    this.alerts = new AlertFanOut(db, ctx.baseUrl);
    this.q = {
      cursor: db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'"),
      setCursor: db.query("UPDATE engine_state SET value = ? WHERE key = 'checkins_applied'"),
      checkins: db.query<CheckinRow, [number, number]>(
        "SELECT id, job_id, kind, status, exit_code, rid, received_at, started_at, duration_ms FROM checkins WHERE id > ? ORDER BY id LIMIT ?",
      ),
      setDeadline: db.query("UPDATE checkins SET deadline = ? WHERE id = ?"),
      openByRid: db.query<OpenRun, [string, string]>(
        "SELECT id, received_at FROM checkins WHERE job_id = ? AND rid = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
      ),
      newestOpen: db.query<OpenRun, [string]>(
        "SELECT id, received_at FROM checkins WHERE job_id = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
      ),
      closeStart: db.query("UPDATE checkins SET status = 'closed', deadline = NULL WHERE id = ?"),
      finish: db.query(
        `UPDATE checkins SET start_id = $start, started_at = $started, duration_ms = $duration,
           status = $status, reason = $reason WHERE id = $id`,
      ),
      dueRuns: db.query<{ id: number; job_id: string; deadline: number; received_at: number }, [number, number]>(
        `SELECT id, job_id, deadline, received_at FROM checkins
         WHERE status = 'running' AND deadline IS NOT NULL AND deadline <= ? ORDER BY deadline LIMIT ?`,
      ),
      timeoutRun: db.query("UPDATE checkins SET status = 'timeout', reason = ?, duration_ms = ?, deadline = NULL WHERE id = ?"),
      dueJobs: db.query<{ id: string }, [number, number]>(
        "SELECT id FROM jobs WHERE next_deadline IS NOT NULL AND next_deadline <= ? ORDER BY next_deadline LIMIT ?",
      ),
      insertFlip: db.query<{ id: number }, [string, string, string, string, string, number]>(
        "INSERT INTO flips (tenant_id, job_id, from_status, to_status, reason, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
      ),
      chainRow: db.query<{ body: string | null; prev_id: number | null; kind: string }, [number]>(
        "SELECT body, prev_id, kind FROM checkins WHERE id = ?",
      ),
    };
    // A new engine on a database is a fresh start: nothing held from before is trusted.
    this.states = jobStates(db);
    this.states.reset();
    this.events = eventHub(db);
    this.appliedThrough = this.q.cursor.get()!.value;
    this.savedCursor = this.appliedThrough;
  }

  start(intervalMs = 100): void {
    this.stopped = false;
    this.deadlineBudgetMs = DEADLINE_BUDGET_MS;
    const loop = () => {
      if (this.stopped) return;
      let behind = false;
      try {
        behind = this.tick().behind;
      } catch (e) {
        this.logFailure("engine tick failed", e);
        this.forgetUnsaved();
      }
      this.timer = setTimeout(loop, behind ? 0 : intervalMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stops ticking, applies what is left in the log and writes everything back. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (let i = 0; i < 1000 && this.tick(this.ctx.now(), true).behind; i++);
  }

  /**
   * Check-ins the writer has just committed, in id order: applied now, in memory and in one
   * transaction with the flips and rows they change, before their requests are answered. The
   * log before them (from before a restart) is applied first.
   */
  applyCommitted(rows: CheckinRow[]): void {
    if (rows.length === 0) return;
    const stats = emptyStats();
    try {
      this.applyInTransaction(rows, stats);
    } catch (e) {
      // The check-ins are in the log; their effects are not. Start over from what is stored.
      this.logFailure("applying check-ins failed; replaying from the log", e);
      this.forgetUnsaved();
      return;
    }
    this.count(stats);
  }

  /** Once a minute at most: on a full disk every pass fails until space returns. */
  private logFailure(message: string, e: unknown): void {
    const at = Date.now();
    if (at - this.lastFailureLog < 60_000) return;
    this.lastFailureLog = at;
    this.ctx.log.error(message, { error: e instanceof Error ? e.message : String(e) });
  }

  /**
   * A transaction that changed jobs through the service (created, changed, deleted) was rolled
   * back: what is held in memory may be ahead of the database. Forget it, take back the deletes
   * (the jobs still there answer pings again), and apply the log again from the durable cursor.
   */
  recover(): void {
    this.states.undrop();
    this.forgetUnsaved();
  }

  /** What is held was not stored: forget it and apply the log again from the durable cursor. */
  private forgetUnsaved(): void {
    this.states.reset();
    try {
      this.appliedThrough = this.savedCursor = this.q.cursor.get()!.value;
    } catch {
      this.appliedThrough = this.savedCursor;
    }
    this.dirtyDeadline = Infinity;
  }

  /** One pass, in one transaction. `now` is a parameter so tests can drive time. */
  tick(now = this.ctx.now(), flushAll = false): TickStats {
    const t0 = performance.now();
    const stats = emptyStats();
    this.alerts = new AlertFanOut(this.ctx.db, this.ctx.baseUrl);
    this.ctx.db.transaction(() => {
      // Check-ins committed before this engine started (after a restart), or left over after a failure.
      const rows = this.q.checkins.all(this.appliedThrough, MAX_CHECKINS_PER_TICK);
      if (rows.length) this.applyCheckins(rows, stats);
      stats.behind = rows.length === MAX_CHECKINS_PER_TICK;
      const until = performance.now() + this.deadlineBudgetMs;
      this.fireRunDeadlines(stats, now, until);
      this.fireJobDeadlines(stats, now, until);
      const agents = fireAgentDeadlinesAllTenants(this.ctx.db, this.ctx.baseUrl, now);
      stats.flips += agents.flips;
      stats.notifications += agents.notifications;
      this.flush(flushAll, now);
    })();
    this.totals.ticks++;
    this.totals.last_tick_ms = performance.now() - t0;
    this.count(stats);
    return stats;
  }

  private count(stats: TickStats): void {
    this.totals.checkins += stats.checkins;
    this.totals.flips += stats.flips;
    this.totals.notifications += stats.notifications;
    if (stats.notifications > 0) this.onNotify();
  }

  /** A held job's deadline may have moved: keep the earliest of them known. */
  private noteDeadline(h: Held): void {
    const d = h.state.next_deadline;
    if (d !== null && d < this.dirtyDeadline) this.dirtyDeadline = d;
  }

  /**
   * Writes back jobs that changed status or rows now; the others in a sweep through the jobs
   * table in rowid order that goes round once every flushMs, so each page of the table is
   * written at most once per round however many of its jobs changed (writing jobs back as they
   * came due wrote the same pages again and again: most of the engine's cost). Then moves the
   * durable cursor to the newest check-in whose effects are all in the database: after a crash,
   * the engine applies the log again from there, skipping what each job row already reflects
   * (its last_checkin_id).
   */
  private flush(all: boolean, now: number): void {
    const states = this.states;
    states.flushUrgent();
    // The rest every SWEEP_STEP_MS, not every tick: it looks at every job held.
    if (!all && this.lastSweep !== null && now - this.lastSweep < SWEEP_STEP_MS) return;
    const last = this.lastSweep ?? now;
    this.lastSweep = now;
    const range = states.maxRowid + 1;
    const span = Math.min(range, Math.ceil((range * Math.max(0, now - last)) / this.flushMs));
    const from = this.sweepAt % range;
    const to = from + span;
    this.sweepAt = to % range;
    // In the sweep: [from, to), wrapping round past the end of the table.
    const swept = (rowid: number) => span >= range || (rowid >= from && rowid < to) || rowid < to - range;
    const late = now - 2 * this.flushMs;
    let safe = this.appliedThrough;
    const due: Held[] = [];
    let earliest = Infinity;
    for (const h of states.dirty) {
      if (all || swept(h.rowid) || h.dirtySince <= late) due.push(h);
      else {
        if (h.firstUnsaved !== null) safe = Math.min(safe, h.firstUnsaved - 1);
        const d = h.state.next_deadline;
        if (d !== null && d < earliest) earliest = d;
      }
    }
    this.dirtyDeadline = earliest;
    due.sort((a, b) => a.rowid - b.rowid);
    for (const h of due) states.save(h);
    // Idle ticks write nothing: no WAL frame for an unchanged cursor.
    if (safe !== this.savedCursor) {
      this.q.setCursor.run(safe);
      this.savedCursor = safe;
    }
    states.trim();
  }

  private applyCheckins(rows: CheckinRow[], stats: TickStats): void {
    const now = this.ctx.now();
    for (const c of rows) {
      if (c.id <= this.appliedThrough) continue;
      // The job's state as its head keeps it (no search by id), else as loaded (and kept there).
      let h = c.head?.held ?? null;
      if (h === null || h.gone) {
        h = this.states.load(c.job_id);
        if (c.head) c.head.held = h;
      }
      this.appliedThrough = c.id;
      // Gone (deleted), or applied and written back before a restart.
      if (!h || (h.job.last_checkin_id !== null && c.id <= h.job.last_checkin_id)) continue;
      this.states.touch(h, now, c.id);
      h.job.checkins_total++;
      stats.checkins++;
      this.applyOne(h, c, stats);
      this.noteDeadline(h);
    }
  }

  private applyOne(l: Held, c: CheckinRow, stats: TickStats): void {
    const { job, policy, state } = l;
    const at = c.received_at;
    // The writer linked the row into the job's chain; the job row remembers the head.
    job.last_checkin_id = c.id;
    // A log line changes no state.
    if (c.kind === "log") return;
    job.last_ping_at = Math.max(job.last_ping_at ?? 0, at);
    if (c.kind === "start") {
      // Rows and open_runs change together: write the job back with them.
      this.states.urgent(l);
      job.open_runs++;
      if (policy.timeout_s) this.q.setDeadline.run(at + policy.timeout_s * 1000, c.id);
      this.record(l, onStart(policy, state, at), stats);
      return;
    }
    // A finish: pair it with its start by run id, else with the newest open run.
    const open = job.open_runs > 0 ? (c.rid ? this.q.openByRid.get(job.id, c.rid) : this.q.newestOpen.get(job.id)) : null;
    if (open) {
      this.q.closeStart.run(open.id);
      job.open_runs--;
    }
    const startedAt = open?.received_at ?? c.started_at ?? (c.duration_ms !== null ? at - c.duration_ms : null);
    const duration = c.duration_ms ?? (startedAt !== null ? Math.max(0, at - startedAt) : null);
    const judged =
      c.status === "timeout"
        ? { status: "timeout" as const, reason: `killed after ${policy.timeout_s ?? "its"}s timeout` }
        : judgeRun(policy, { result: c.kind === "success" ? "success" : "failed", at, duration_ms: duration, exit_code: c.exit_code });
    // The row was written as success or failed; touch it only when pairing or judging added something.
    if (open || judged.reason !== null || (judged.status === "success") !== (c.kind === "success")) {
      this.states.urgent(l);
      this.q.finish.run({ id: c.id, start: open?.id ?? null, started: startedAt, duration, status: judged.status, reason: judged.reason });
    }
    if (judged.status === "success") job.last_success_at = at;
    else job.last_failure_at = at;
    job.last_duration_ms = duration;
    job.last_exit_code = c.exit_code;
    this.record(l, onFinish(policy, state, judged.status === "timeout" ? "failed" : judged.status, judged.reason, at, job.open_runs > 0), stats);
  }

  private fireRunDeadlines(stats: TickStats, now: number, until: number): void {
    const due = this.q.dueRuns.all(now, MAX_DEADLINES_PER_TICK);
    if (due.length === MAX_DEADLINES_PER_TICK) stats.behind = true;
    for (const r of due) {
      if (performance.now() > until) {
        stats.behind = true;
        break;
      }
      const l = this.states.load(r.job_id);
      if (!l) continue;
      const judged = judgeRun(l.policy, { result: "timeout", at: r.deadline, duration_ms: null, exit_code: null });
      this.q.timeoutRun.run(judged.reason, r.deadline - r.received_at, r.id);
      this.states.touch(l, now);
      this.states.urgent(l);
      if (this.events.live) this.events.job(l.job.tenant_id, l.job.id, r.id);
      stats.timeouts++;
      l.job.last_failure_at = r.deadline;
      l.job.open_runs = Math.max(0, l.job.open_runs - 1);
      this.record(l, onFinish(l.policy, l.state, "timeout", judged.reason, r.deadline, l.job.open_runs > 0), stats);
      this.noteDeadline(l);
    }
  }

  private fireJobDeadlines(stats: TickStats, now: number, until: number): void {
    // Due by the database, and due by what we hold in memory but have not written back yet.
    const due = new Set<Held>();
    const stored = this.q.dueJobs.all(now, MAX_DEADLINES_PER_TICK);
    if (stored.length === MAX_DEADLINES_PER_TICK) stats.behind = true;
    for (const { id } of stored) {
      const l = this.states.load(id);
      if (l) due.add(l);
    }
    if (this.dirtyDeadline <= now) {
      for (const l of this.states.dirty) {
        if (l.state.next_deadline === null || l.state.next_deadline > now) continue;
        if (due.size >= MAX_DEADLINES_PER_TICK) {
          stats.behind = true;
          break;
        }
        due.add(l);
      }
    }
    for (const l of due) {
      if (performance.now() > until) {
        // Still due: the next pass finds them again.
        stats.behind = true;
        break;
      }
      // The database may be behind: what we hold decides whether the deadline really passed.
      if (l.state.next_deadline === null || l.state.next_deadline > now) {
        if (!l.dirty) this.states.touch(l, now); // write the later deadline back, so the query stops finding it
        continue;
      }
      this.states.touch(l, now);
      stats.deadlines++;
      const { flips, renotify } = onDeadline(l.policy, l.state, now);
      this.record(l, flips, stats);
      if (renotify && l.state.alerting) {
        this.states.urgent(l);
        this.notify(l, null, "renotify", `still ${l.state.status}`, now, stats);
      }
    }
  }

  /** The newest output among the job's last few check-ins. */
  private lastOutput(id: number | null): string | null {
    for (let n = 0; id !== null && n < 20; n++) {
      const row = this.q.chainRow.get(id);
      if (!row) return null;
      if (row.body && row.kind !== "log") return row.body;
      id = row.prev_id;
    }
    return null;
  }

  /** Writes flips and queues their notifications. */
  private record(l: Held, flips: Flip[], stats: TickStats): void {
    if (flips.length) {
      this.states.urgent(l);
      if (this.events.live) this.events.jobFlipped(l.job.tenant_id, l.job.id);
    }
    for (const f of flips) {
      // A job missed its run because its host is offline: the agent's alert covers it.
      const folded = f.notify === "trigger" && f.to === "down" ? foldedInto(this.ctx.db, l.job.tenant_id, l.job.id) : null;
      const reason = folded ? `${f.reason} (agent ${folded.join(", ")} offline: folded into its alert)` : f.reason;
      const flipId = this.q.insertFlip.get(l.job.tenant_id, l.job.id, f.from, f.to, reason, f.at)!.id;
      stats.flips++;
      if (folded) l.state.alerting = false;
      else if (f.notify) this.notify(l, flipId, f.notify, f.reason, f.at, stats, f.from);
    }
  }

  private notify(l: Held, flipId: number | null, event: AlertEvent, reason: string, at: number, stats: TickStats, from?: string): void {
    const { job, state } = l;
    stats.notifications += this.alerts.queue({
      tenantId: job.tenant_id,
      event,
      job,
      status: state.status,
      previousStatus: from ?? null,
      reason,
      since: state.status_since ?? at,
      output: () => this.lastOutput(job.last_checkin_id),
      incidentKey: `crontopus-${job.id}`,
      flipId,
      outboxKey: (channelId) => (flipId !== null ? `flip:${flipId}:${channelId}` : `${event}:${job.id}:${at}:${channelId}`),
      at,
    });
  }
}


function emptyStats(): TickStats {
  return { checkins: 0, timeouts: 0, deadlines: 0, flips: 0, notifications: 0, behind: false };
}
