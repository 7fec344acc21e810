// The monitoring engine: one tick applies new check-ins from the log, times out runs that
// ran too long, and fires job deadlines (late, down, reminders), all in one transaction,
// writing flips and queueing notifications with them. A crash loses nothing: the log and
// the cursor commit together, so whatever was not applied is applied after a restart.
import type { Db } from "../db";
import type { Logger } from "../log";
import type { JobRow } from "../jobs/jobs";
import { judgeRun, onDeadline, onFinish, onStart, policyOf, type Flip, type Policy, type State } from "./state";
import type { CheckinRow } from "../checkins/writer";
import { findChannelsByName, type Channel } from "../alerts/channels";
import { holdJobState, releaseJobState, type JobStateHolder } from "../jobs/holders";
import { enqueueNotification } from "../alerts/outbox";
import { jobConsoleUrl, tailOutput, type AlertMessage } from "../alerts/message";
import { fireAgentDeadlines, foldedInto } from "../agents/agents";

interface OpenRun {
  id: number;
  received_at: number;
}

type EngineJobRow = { rowid: number } & Pick<
  JobRow,
  | "id" | "tenant_id" | "namespace" | "name" | "schedule" | "timezone" | "grace_s" | "timeout_s" | "alert_after" | "min_runtime_s"
  | "start_grace_s" | "renotify_s" | "channels" | "enabled" | "paused" | "status" | "status_since" | "consecutive_failures"
  | "checkins_total" | "last_ping_at" | "last_success_at" | "last_failure_at" | "last_duration_ms" | "last_exit_code"
  | "expected_at" | "next_deadline" | "last_notified_at" | "last_checkin_id" | "open_runs" | "alerting"
>;

/** The job as the engine sees it: its policy inputs and its monitoring state. */
type EngineJob = Omit<EngineJobRow, "rowid" | "channels" | "enabled" | "paused" | "alerting"> & {
  channels: string[] | null;
  enabled: boolean;
  paused: boolean;
  alerting: boolean;
};

interface Loaded {
  job: EngineJob;
  policy: Policy;
  state: State;
  /** Changed since last written back. */
  dirty: boolean;
  /** Changed status or rows: write back at the end of this tick, not a flush interval later. */
  urgent: boolean;
  /** When it was first changed since written back. */
  dirtySince: number;
  /** The job row's rowid: write-backs go in rowid order, so each page of the table is written once per sweep. */
  rowid: number;
  /** The first check-in applied to it since written back: the log must be kept from there. */
  firstUnsaved: number | null;
}

export interface TickStats {
  checkins: number;
  timeouts: number;
  deadlines: number;
  flips: number;
  notifications: number;
  /** True when more check-ins are waiting than one tick applies. */
  behind: boolean;
}

const MAX_CHECKINS_PER_TICK = 20_000;
/** Jobs kept in memory between ticks; clean ones beyond this are dropped. */
const MAX_CACHED_JOBS = 50_000;
const MAX_DEADLINES_PER_TICK = 5_000;
/** How often the write-back sweep moves on (urgent write-backs go every tick). */
const SWEEP_STEP_MS = 100;
/** Committed check-ins held for the engine; beyond this it reads the log instead. */
const MAX_INBOX = 500_000;
export interface EngineContext {
  db: Db;
  log: Logger;
  baseUrl: string;
  now: () => number;
}

export class Engine implements JobStateHolder {
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Busy jobs' state, kept between ticks and written back every flushMs (and on status changes). */
  private readonly cache = new Map<string, Loaded>();
  private readonly dirty = new Set<Loaded>();
  /** Jobs to write back at the end of this tick. */
  private urgentQueue: Loaded[] = [];
  private readonly tickChannels = new Map<string, Channel[]>();
  private readonly tickTenants = new Map<string, { slug: string; name: string }>();
  /** The newest check-in applied in memory (the database's cursor may be behind it). */
  private appliedThrough: number;
  /** The earliest deadline among jobs held but not written back (the query cannot see them). */
  private dirtyDeadline = Infinity;
  /** The cursor as the database has it. */
  private savedCursor: number;
  /** Committed check-ins handed over by the writer, in id order, from inboxAt on. */
  private inbox: CheckinRow[] = [];
  private inboxAt = 0;
  /** The write-back sweep: where it is in rowid order, the highest rowid held, when it last moved. */
  private sweepAt = 0;
  private maxRowid = 0;
  private lastSweep: number | null = null;
  flushMs = 1000;
  private stopped = true;
  private readonly q;
  /** Called after a tick that queued notifications (the dispatcher's kick). */
  onNotify: () => void = () => {};
  /** Engine-wide figures for /metrics. */
  readonly totals = { ticks: 0, checkins: 0, flips: 0, notifications: 0, last_tick_ms: 0 };

  constructor(private readonly ctx: EngineContext) {
    const db = ctx.db;
    this.q = {
      cursor: db.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'"),
      setCursor: db.query("UPDATE engine_state SET value = ? WHERE key = 'checkins_applied'"),
      checkins: db.query<CheckinRow, [number, number]>(
        "SELECT id, job_id, kind, status, exit_code, rid, received_at, started_at, duration_ms FROM checkins WHERE id > ? ORDER BY id LIMIT ?",
      ),
      checkinsBefore: db.query<CheckinRow, [number, number, number]>(
        "SELECT id, job_id, kind, status, exit_code, rid, received_at, started_at, duration_ms FROM checkins WHERE id > ? AND id < ? ORDER BY id LIMIT ?",
      ),
      // Only what the engine needs: no labels, env or other JSON to parse on this path.
      job: db.query<EngineJobRow, [string]>(
        `SELECT rowid, id, tenant_id, namespace, name, schedule, timezone, grace_s, timeout_s, alert_after, min_runtime_s,
           start_grace_s, renotify_s, channels, enabled, paused, status, status_since, consecutive_failures, checkins_total,
           last_ping_at, last_success_at, last_failure_at, last_duration_ms, last_exit_code, expected_at, next_deadline,
           last_notified_at, last_checkin_id, open_runs, alerting
         FROM jobs WHERE id = ?`,
      ),
      // Positional, in this order: status, status_since, consecutive_failures, checkins_total,
      // last_ping_at, last_success_at, last_failure_at, last_duration_ms, last_exit_code,
      // expected_at, last_notified_at, last_checkin_id, open_runs, alerting, rowid, id; saveJob
      // then next_deadline before rowid. saveCounters leaves the deadline index alone when it did
      // not move. By rowid, checked against the id: no index to search, and a rowid that moved
      // (VACUUM renumbers them) matches nothing and is looked up again.
      saveCounters: db.query(
        `UPDATE jobs SET status = ?, status_since = ?, consecutive_failures = ?, checkins_total = ?, last_ping_at = ?,
           last_success_at = ?, last_failure_at = ?, last_duration_ms = ?, last_exit_code = ?, expected_at = ?,
           last_notified_at = ?, last_checkin_id = ?, open_runs = ?, alerting = ?
         WHERE rowid = ? AND id = ?`,
      ),
      saveJob: db.query(
        `UPDATE jobs SET status = ?, status_since = ?, consecutive_failures = ?, checkins_total = ?, last_ping_at = ?,
           last_success_at = ?, last_failure_at = ?, last_duration_ms = ?, last_exit_code = ?, expected_at = ?,
           last_notified_at = ?, last_checkin_id = ?, open_runs = ?, alerting = ?, next_deadline = ?
         WHERE rowid = ? AND id = ?`,
      ),
      rowidOf: db.query<{ rowid: number }, [string]>("SELECT rowid FROM jobs WHERE id = ?"),
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
      tenant: db.query<{ slug: string; name: string }, [string]>("SELECT slug, name FROM tenants WHERE id = ?"),
    };
    this.appliedThrough = this.q.cursor.get()!.value;
    this.savedCursor = this.appliedThrough;
    holdJobState(db, this);
  }

  start(intervalMs = 100): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      let behind = false;
      try {
        behind = this.tick().behind;
      } catch (e) {
        this.ctx.log.error("engine tick failed", { error: e instanceof Error ? e.message : String(e) });
      }
      this.timer = setTimeout(loop, behind ? 0 : intervalMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Apply what is left in the log and write everything back.
    this.tick(this.ctx.now(), true);
    releaseJobState(this.ctx.db, this);
  }

  /** A job is about to be written by a service: put what we hold in the database first. */
  writeBack(jobId: string): void {
    const l = this.cache.get(jobId);
    if (l?.dirty) this.save(l);
  }

  /** A job was written by a service: read it afresh next time. */
  forget(jobId: string): void {
    const l = this.cache.get(jobId);
    if (l) {
      this.dirty.delete(l);
      l.dirty = false; // never written back now, even if queued as urgent
    }
    this.cache.delete(jobId);
  }

  /** Changed status or rows: written back at the end of this tick. */
  private urgent(l: Loaded): void {
    if (!l.urgent) {
      l.urgent = true;
      this.urgentQueue.push(l);
    }
  }

  /** The newest check-in applied to a job, which the job row may not show yet. */
  newestCheckin(jobId: string): number | null {
    return this.cache.get(jobId)?.job.last_checkin_id ?? null;
  }

  /** Check-ins just committed by the writer, in id order: applied by the next tick without reading the log. */
  accept(rows: CheckinRow[]): void {
    if (this.inbox.length - this.inboxAt + rows.length > MAX_INBOX) {
      // Far behind: drop what is held; the log has it all and the engine reads it from there.
      this.inbox = [];
      this.inboxAt = 0;
      return;
    }
    for (const r of rows) this.inbox.push(r);
  }

  /** One pass, in one transaction. `now` is a parameter so tests can drive time. */
  tick(now = this.ctx.now(), flushAll = false): TickStats {
    const t0 = performance.now();
    const stats: TickStats = { checkins: 0, timeouts: 0, deadlines: 0, flips: 0, notifications: 0, behind: false };
    this.tickChannels.clear();
    this.tickTenants.clear();
    this.ctx.db.transaction(() => {
      this.applyCheckins(stats);
      this.fireRunDeadlines(stats, now);
      this.fireJobDeadlines(stats, now);
      const agents = fireAgentDeadlines(this.ctx.db, this.ctx.baseUrl, now);
      stats.flips += agents.flips;
      stats.notifications += agents.notifications;
      this.flush(flushAll, now);
    })();
    this.totals.ticks++;
    this.totals.checkins += stats.checkins;
    this.totals.flips += stats.flips;
    this.totals.notifications += stats.notifications;
    this.totals.last_tick_ms = performance.now() - t0;
    if (stats.notifications > 0) this.onNotify();
    return stats;
  }

  private load(jobId: string): Loaded | null {
    const cached = this.cache.get(jobId);
    if (cached) return cached;
    const row = this.q.job.get(jobId);
    if (!row) return null; // deleted since the check-in arrived
    const { rowid: _, ...fields } = row;
    const job: EngineJob = {
      ...fields,
      channels: row.channels ? JSON.parse(row.channels) : null,
      enabled: row.enabled === 1,
      paused: row.paused === 1,
      alerting: row.alerting === 1,
    };
    const l: Loaded = { job, policy: policyOf(job), state: { ...job }, dirty: false, urgent: false, dirtySince: 0, firstUnsaved: null, rowid: row.rowid };
    if (row.rowid > this.maxRowid) this.maxRowid = row.rowid;
    this.cache.set(jobId, l);
    return l;
  }

  private touch(l: Loaded, checkinId: number | null = null): void {
    if (!l.dirty) {
      l.dirty = true;
      l.dirtySince = this.ctx.now();
      this.dirty.add(l);
    }
    if (checkinId !== null && l.firstUnsaved === null) l.firstUnsaved = checkinId;
  }

  /** A held job's deadline may have moved: keep the earliest of them known. */
  private noteDeadline(l: Loaded): void {
    const d = l.state.next_deadline;
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
    for (const l of this.urgentQueue) {
      if (l.dirty) {
        this.save(l);
        this.dirty.delete(l);
      }
      l.urgent = false;
    }
    this.urgentQueue = [];
    // The rest every SWEEP_STEP_MS, not every tick: it looks at every job held.
    if (!all && this.lastSweep !== null && now - this.lastSweep < SWEEP_STEP_MS) return;
    const last = this.lastSweep ?? now;
    this.lastSweep = now;
    const range = this.maxRowid + 1;
    const span = Math.min(range, Math.ceil((range * Math.max(0, now - last)) / this.flushMs));
    const from = this.sweepAt;
    const to = from + span;
    this.sweepAt = to % range;
    // In the sweep: [from, to), wrapping round past the end of the table.
    const swept = (rowid: number) => span >= range || (rowid >= from && rowid < to) || rowid < to - range;
    const late = now - 2 * this.flushMs;
    let safe = this.appliedThrough;
    const due: Loaded[] = [];
    let earliest = Infinity;
    for (const l of this.dirty) {
      if (all || swept(l.rowid) || l.dirtySince <= late) due.push(l);
      else {
        if (l.firstUnsaved !== null) safe = Math.min(safe, l.firstUnsaved - 1);
        const d = l.state.next_deadline;
        if (d !== null && d < earliest) earliest = d;
      }
    }
    this.dirtyDeadline = earliest;
    due.sort((a, b) => a.rowid - b.rowid);
    for (const l of due) {
      this.save(l);
      this.dirty.delete(l);
    }
    // Idle ticks write nothing: no WAL frame for an unchanged cursor.
    if (safe !== this.savedCursor) {
      this.q.setCursor.run(safe);
      this.savedCursor = safe;
    }
    if (this.cache.size > MAX_CACHED_JOBS) {
      for (const [id, l] of this.cache) {
        if (this.cache.size <= MAX_CACHED_JOBS * 0.8) break;
        if (!l.dirty) this.cache.delete(id);
      }
    }
  }

  private save(l: Loaded): void {
    const j = l.job;
    const s = l.state;
    const moved = s.next_deadline !== j.next_deadline;
    j.next_deadline = s.next_deadline;
    const alerting = s.alerting ? 1 : 0;
    const write = () =>
      moved
        ? this.q.saveJob.run(
            s.status, s.status_since, s.consecutive_failures, j.checkins_total, j.last_ping_at, j.last_success_at, j.last_failure_at,
            j.last_duration_ms, j.last_exit_code, s.expected_at, s.last_notified_at, j.last_checkin_id, j.open_runs, alerting, s.next_deadline, l.rowid, j.id,
          ).changes
        : this.q.saveCounters.run(
            s.status, s.status_since, s.consecutive_failures, j.checkins_total, j.last_ping_at, j.last_success_at, j.last_failure_at,
            j.last_duration_ms, j.last_exit_code, s.expected_at, s.last_notified_at, j.last_checkin_id, j.open_runs, alerting, l.rowid, j.id,
          ).changes;
    if (write() === 0) {
      const found = this.q.rowidOf.get(j.id);
      if (found) {
        l.rowid = found.rowid;
        write();
      }
    }
    l.dirty = false;
    l.urgent = false;
    l.firstUnsaved = null;
  }

  /** The next check-ins to apply: handed over by the writer, or read from the log to catch up. */
  private nextCheckins(limit: number): CheckinRow[] {
    const held = this.inbox.length - this.inboxAt;
    const first = held > 0 ? this.inbox[this.inboxAt]!.id : null;
    if (first === null) return this.q.checkins.all(this.appliedThrough, limit);
    if (first > this.appliedThrough + 1) {
      // Rows before the first one held: from before a restart, or dropped from a full inbox.
      const rows = this.q.checkinsBefore.all(this.appliedThrough, first, limit);
      if (rows.length) return rows;
      this.appliedThrough = first - 1;
    }
    let at = this.inboxAt;
    while (at < this.inbox.length && this.inbox[at]!.id <= this.appliedThrough) at++;
    const end = Math.min(this.inbox.length, at + limit);
    const rows = this.inbox.slice(at, end);
    if (end === this.inbox.length) {
      this.inbox = [];
      this.inboxAt = 0;
    } else this.inboxAt = end;
    return rows;
  }

  private applyCheckins(stats: TickStats): void {
    const rows = this.nextCheckins(MAX_CHECKINS_PER_TICK);
    if (rows.length === 0) return;
    for (const c of rows) {
      const l = this.load(c.job_id);
      // Gone (deleted), or applied and written back before a restart.
      if (!l || (l.job.last_checkin_id !== null && c.id <= l.job.last_checkin_id)) continue;
      this.touch(l, c.id);
      l.job.checkins_total++;
      stats.checkins++;
      this.applyOne(l, c, stats);
      this.noteDeadline(l);
    }
    this.appliedThrough = rows.at(-1)!.id;
    stats.behind = rows.length === MAX_CHECKINS_PER_TICK || this.inbox.length > this.inboxAt;
  }

  private applyOne(l: Loaded, c: CheckinRow, stats: TickStats): void {
    const { job, policy, state } = l;
    const at = c.received_at;
    // The writer linked the row into the job's chain; the job row remembers the head.
    job.last_checkin_id = c.id;
    // A log line changes no state.
    if (c.kind === "log") return;
    job.last_ping_at = Math.max(job.last_ping_at ?? 0, at);
    if (c.kind === "start") {
      // Rows and open_runs change together: write the job back with them.
      this.urgent(l);
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
      this.urgent(l);
      this.q.finish.run({ id: c.id, start: open?.id ?? null, started: startedAt, duration, status: judged.status, reason: judged.reason });
    }
    if (judged.status === "success") job.last_success_at = at;
    else job.last_failure_at = at;
    job.last_duration_ms = duration;
    job.last_exit_code = c.exit_code;
    this.record(l, onFinish(policy, state, judged.status === "timeout" ? "failed" : judged.status, judged.reason, at, job.open_runs > 0), stats);
  }

  private fireRunDeadlines(stats: TickStats, now: number): void {
    for (const r of this.q.dueRuns.all(now, MAX_DEADLINES_PER_TICK)) {
      const l = this.load(r.job_id);
      if (!l) continue;
      const judged = judgeRun(l.policy, { result: "timeout", at: r.deadline, duration_ms: null, exit_code: null });
      this.q.timeoutRun.run(judged.reason, r.deadline - r.received_at, r.id);
      this.touch(l);
      this.urgent(l);
      stats.timeouts++;
      l.job.last_failure_at = r.deadline;
      l.job.open_runs = Math.max(0, l.job.open_runs - 1);
      this.record(l, onFinish(l.policy, l.state, "timeout", judged.reason, r.deadline, l.job.open_runs > 0), stats);
      this.noteDeadline(l);
    }
  }

  private fireJobDeadlines(stats: TickStats, now: number): void {
    // Due by the database, and due by what we hold in memory but have not written back yet.
    const due = new Set<Loaded>();
    for (const { id } of this.q.dueJobs.all(now, MAX_DEADLINES_PER_TICK)) {
      const l = this.load(id);
      if (l) due.add(l);
    }
    if (this.dirtyDeadline <= now) {
      for (const l of this.dirty) if (l.state.next_deadline !== null && l.state.next_deadline <= now) due.add(l);
    }
    for (const l of due) {
      // The database may be behind: what we hold decides whether the deadline really passed.
      if (l.state.next_deadline === null || l.state.next_deadline > now) {
        if (!l.dirty) this.touch(l); // write the later deadline back, so the query stops finding it
        continue;
      }
      this.touch(l);
      stats.deadlines++;
      const { flips, renotify } = onDeadline(l.policy, l.state, now);
      this.record(l, flips, stats);
      if (renotify && l.state.alerting) {
        this.urgent(l);
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
  private record(l: Loaded, flips: Flip[], stats: TickStats): void {
    if (flips.length) this.urgent(l);
    for (const f of flips) {
      // A job missed its run because its host is offline: the agent's alert covers it.
      const folded = f.notify === "trigger" && f.to === "down" ? foldedInto(this.ctx.db, l.job.id) : null;
      const reason = folded ? `${f.reason} (agent ${folded.join(", ")} offline: folded into its alert)` : f.reason;
      const flipId = this.q.insertFlip.get(l.job.tenant_id, l.job.id, f.from, f.to, reason, f.at)!.id;
      stats.flips++;
      if (folded) l.state.alerting = false;
      else if (f.notify) this.notify(l, flipId, f.notify, f.reason, f.at, stats, f.from);
    }
  }

  private notify(l: Loaded, flipId: number | null, event: AlertMessage["event"], reason: string, at: number, stats: TickStats, from?: string): void {
    const { job, state } = l;
    // Many jobs of one tenant often fall due together: look its channels up once per tick.
    const key = `${job.tenant_id}\u0000${job.channels ? job.channels.join("\u0000") : "*"}`;
    let channels = this.tickChannels.get(key);
    if (!channels) this.tickChannels.set(key, (channels = findChannelsByName(this.ctx.db, job.tenant_id, job.channels)));
    if (channels.length === 0) return;
    let tenant = this.tickTenants.get(job.tenant_id);
    if (!tenant) this.tickTenants.set(job.tenant_id, (tenant = this.q.tenant.get(job.tenant_id)!));
    const message: AlertMessage = {
      event,
      tenant: { slug: tenant.slug, name: tenant.name },
      job: { id: job.id, namespace: job.namespace, name: job.name, url: jobConsoleUrl(this.ctx.baseUrl, job.namespace, job.name) },
      status: state.status,
      previous_status: from ?? null,
      reason,
      since: new Date(state.status_since ?? at).toISOString(),
      last_output: tailOutput(this.lastOutput(job.last_checkin_id)),
      dedup_key: `crontopus-${job.id}`,
    };
    for (const ch of channels) {
      const dedupKey = flipId !== null ? `flip:${flipId}:${ch.id}` : `${event}:${job.id}:${at}:${ch.id}`;
      enqueueNotification(this.ctx.db, { tenantId: job.tenant_id, channelId: ch.id, jobId: job.id, flipId, event, dedupKey, message }, at);
      stats.notifications++;
    }
  }
}

