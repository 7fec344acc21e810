// The monitoring engine: one tick applies new check-ins from the log, times out runs that
// ran too long, and fires job deadlines (late, down, reminders), all in one transaction,
// writing flips and queueing notifications with them. A crash loses nothing: the log and
// the cursor commit together, so whatever was not applied is applied after a restart.
import type { Db } from "../db";
import type { Logger } from "../log";
import { rowToJob, type Job, type JobRow } from "../jobs/jobs";
import { judgeRun, onDeadline, onFinish, onStart, policyOf, type Flip, type Policy, type State } from "./state";
import type { CheckinKind } from "../checkins/writer";
import { findChannelsByName } from "../alerts/channels";
import { enqueueNotification } from "../alerts/outbox";
import { jobConsoleUrl, tailOutput, type AlertMessage } from "../alerts/message";

interface CheckinRow {
  id: number;
  job_id: string;
  kind: CheckinKind;
  exit_code: number | null;
  rid: string | null;
  received_at: number;
  started_at: number | null;
  duration_ms: number | null;
  body: string | null;
  truncated: number;
  source: string | null;
}

interface OpenRun {
  id: string;
  started_at: number | null;
  output: string | null;
}

interface Loaded {
  job: Job;
  policy: Policy;
  state: State;
  dirty: boolean;
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

const MAX_CHECKINS_PER_TICK = 5_000;
const MAX_DEADLINES_PER_TICK = 5_000;
export interface EngineContext {
  db: Db;
  log: Logger;
  baseUrl: string;
  now: () => number;
}

export class Engine {
  private timer: ReturnType<typeof setTimeout> | null = null;
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
      checkins: db.query<CheckinRow, [number, number]>("SELECT * FROM checkins WHERE id > ? ORDER BY id LIMIT ?"),
      job: db.query<JobRow, [string]>("SELECT * FROM jobs WHERE id = ?"),
      saveJob: db.query(
        `UPDATE jobs SET status = $status, status_since = $status_since, consecutive_failures = $consecutive_failures,
           checkins_total = $checkins_total, last_ping_at = $last_ping_at, last_success_at = $last_success_at,
           last_failure_at = $last_failure_at, last_duration_ms = $last_duration_ms, last_exit_code = $last_exit_code,
           expected_at = $expected_at, next_deadline = $next_deadline, last_notified_at = $last_notified_at
         WHERE id = $id`,
      ),
      openRunByRid: db.query<OpenRun, [string, string]>(
        "SELECT id, started_at, output FROM runs WHERE job_id = ? AND rid = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
      ),
      newestOpenRun: db.query<OpenRun, [string]>(
        "SELECT id, started_at, output FROM runs WHERE job_id = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
      ),
      countOpenRuns: db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM runs WHERE job_id = ? AND status = 'running'"),
      insertRun: db.query(
        `INSERT INTO runs (id, tenant_id, job_id, rid, status, started_at, finished_at, duration_ms, exit_code, output,
           output_truncated, source, reason, deadline, created_at)
         VALUES ($id, $tenant_id, $job_id, $rid, $status, $started_at, $finished_at, $duration_ms, $exit_code, $output,
           $output_truncated, $source, $reason, $deadline, $created_at)`,
      ),
      finishRun: db.query(
        `UPDATE runs SET status = $status, finished_at = $finished_at, duration_ms = $duration_ms, exit_code = $exit_code,
           output = coalesce($output, output), output_truncated = max(output_truncated, $output_truncated),
           reason = $reason, deadline = NULL
         WHERE id = $id`,
      ),
      appendLog: db.query("UPDATE runs SET output = CASE WHEN output IS NULL OR output = '' THEN ?1 ELSE output || char(10) || ?1 END WHERE id = ?2"),
      dueRuns: db.query<{ id: string; job_id: string; deadline: number }, [number, number]>(
        "SELECT id, job_id, deadline FROM runs WHERE status = 'running' AND deadline IS NOT NULL AND deadline <= ? ORDER BY deadline LIMIT ?",
      ),
      timeoutRun: db.query("UPDATE runs SET status = 'timeout', finished_at = ?, reason = ?, deadline = NULL WHERE id = ?"),
      dueJobs: db.query<{ id: string }, [number, number]>(
        "SELECT id FROM jobs WHERE next_deadline IS NOT NULL AND next_deadline <= ? ORDER BY next_deadline LIMIT ?",
      ),
      insertFlip: db.query<{ id: number }, [string, string, string, string, string, number]>(
        "INSERT INTO flips (tenant_id, job_id, from_status, to_status, reason, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
      ),
      lastOutput: db.query<{ output: string | null }, [string]>(
        "SELECT output FROM runs WHERE job_id = ? AND output IS NOT NULL ORDER BY id DESC LIMIT 1",
      ),
      tenant: db.query<{ slug: string; name: string }, [string]>("SELECT slug, name FROM tenants WHERE id = ?"),
    };
  }

  start(intervalMs = 250): void {
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
  }

  /** One pass, in one transaction. `now` is a parameter so tests can drive time. */
  tick(now = this.ctx.now()): TickStats {
    const t0 = performance.now();
    const stats: TickStats = { checkins: 0, timeouts: 0, deadlines: 0, flips: 0, notifications: 0, behind: false };
    const loaded = new Map<string, Loaded | null>();
    this.ctx.db.transaction(() => {
      this.applyCheckins(loaded, stats);
      this.save(loaded);
      this.fireRunDeadlines(loaded, stats, now);
      this.save(loaded);
      this.fireJobDeadlines(loaded, stats, now);
      this.save(loaded);
    })();
    this.totals.ticks++;
    this.totals.checkins += stats.checkins;
    this.totals.flips += stats.flips;
    this.totals.notifications += stats.notifications;
    this.totals.last_tick_ms = performance.now() - t0;
    if (stats.notifications > 0) this.onNotify();
    return stats;
  }

  private load(loaded: Map<string, Loaded | null>, jobId: string): Loaded | null {
    let l = loaded.get(jobId);
    if (l !== undefined) return l;
    const row = this.q.job.get(jobId);
    if (row) {
      const job = rowToJob(row);
      l = { job, policy: policyOf(job), state: { ...job }, dirty: false };
    } else l = null; // deleted since the check-in arrived
    loaded.set(jobId, l);
    return l;
  }

  private save(loaded: Map<string, Loaded | null>): void {
    for (const l of loaded.values()) {
      if (!l || !l.dirty) continue;
      const j = l.job;
      const s = l.state;
      this.q.saveJob.run({
        id: j.id,
        status: s.status,
        status_since: s.status_since,
        consecutive_failures: s.consecutive_failures,
        checkins_total: j.checkins_total,
        last_ping_at: j.last_ping_at,
        last_success_at: j.last_success_at,
        last_failure_at: j.last_failure_at,
        last_duration_ms: j.last_duration_ms,
        last_exit_code: j.last_exit_code,
        expected_at: s.expected_at,
        next_deadline: s.next_deadline,
        last_notified_at: s.last_notified_at,
      });
      l.dirty = false;
    }
  }

  private applyCheckins(loaded: Map<string, Loaded | null>, stats: TickStats): void {
    const cursor = this.q.cursor.get()!.value;
    const rows = this.q.checkins.all(cursor, MAX_CHECKINS_PER_TICK);
    if (rows.length === 0) return;
    for (const c of rows) {
      const l = this.load(loaded, c.job_id);
      if (!l) continue;
      l.dirty = true;
      l.job.checkins_total++;
      stats.checkins++;
      this.applyOne(l, c, stats);
    }
    this.q.setCursor.run(rows.at(-1)!.id);
    stats.behind = rows.length === MAX_CHECKINS_PER_TICK;
  }

  private applyOne(l: Loaded, c: CheckinRow, stats: TickStats): void {
    const { job, policy, state } = l;
    const at = c.received_at;
    if (c.kind === "log") {
      // A log line changes no state; it joins the output of the run in progress, if any.
      const open = c.rid ? this.q.openRunByRid.get(job.id, c.rid) : this.q.newestOpenRun.get(job.id);
      if (open && c.body) this.q.appendLog.run(c.body, open.id);
      return;
    }
    job.last_ping_at = Math.max(job.last_ping_at ?? 0, at);
    if (c.kind === "start") {
      const startedAt = c.started_at ?? at;
      this.q.insertRun.run({
        id: Bun.randomUUIDv7("hex", startedAt),
        tenant_id: job.tenant_id,
        job_id: job.id,
        rid: c.rid,
        status: "running",
        started_at: startedAt,
        finished_at: null,
        duration_ms: null,
        exit_code: null,
        output: c.body,
        output_truncated: c.truncated,
        source: c.source,
        reason: null,
        deadline: policy.timeout_s ? startedAt + policy.timeout_s * 1000 : null,
        created_at: at,
      });
      this.record(l, onStart(policy, state, at), stats);
      return;
    }
    // A finish: success (exit 0) or failure. Pair it with its start by run id, else the newest open run.
    const open = c.rid ? this.q.openRunByRid.get(job.id, c.rid) : this.q.newestOpenRun.get(job.id);
    const startedAt = open?.started_at ?? c.started_at ?? (c.duration_ms !== null ? at - c.duration_ms : null);
    const duration = c.duration_ms ?? (startedAt !== null ? Math.max(0, at - startedAt) : null);
    const judged = judgeRun(policy, { result: c.kind === "success" ? "success" : "failed", at, duration_ms: duration, exit_code: c.exit_code });
    if (open) {
      this.q.finishRun.run({
        id: open.id,
        status: judged.status,
        finished_at: at,
        duration_ms: duration,
        exit_code: c.exit_code,
        output: c.body,
        output_truncated: c.truncated,
        reason: judged.reason,
      });
    } else {
      this.q.insertRun.run({
        id: Bun.randomUUIDv7("hex", startedAt ?? at),
        tenant_id: job.tenant_id,
        job_id: job.id,
        rid: c.rid,
        status: judged.status,
        started_at: startedAt,
        finished_at: at,
        duration_ms: duration,
        exit_code: c.exit_code,
        output: c.body,
        output_truncated: c.truncated,
        source: c.source,
        reason: judged.reason,
        deadline: null,
        created_at: at,
      });
    }
    if (judged.status === "success") job.last_success_at = at;
    else job.last_failure_at = at;
    job.last_duration_ms = duration;
    job.last_exit_code = c.exit_code;
    const stillRunning = this.q.countOpenRuns.get(job.id)!.n > 0;
    this.record(l, onFinish(policy, state, judged.status === "timeout" ? "failed" : judged.status, judged.reason, at, stillRunning), stats);
  }

  private fireRunDeadlines(loaded: Map<string, Loaded | null>, stats: TickStats, now: number): void {
    for (const r of this.q.dueRuns.all(now, MAX_DEADLINES_PER_TICK)) {
      const l = this.load(loaded, r.job_id);
      if (!l) continue;
      const judged = judgeRun(l.policy, { result: "timeout", at: r.deadline, duration_ms: null, exit_code: null });
      this.q.timeoutRun.run(r.deadline, judged.reason, r.id);
      l.dirty = true;
      stats.timeouts++;
      l.job.last_failure_at = r.deadline;
      const stillRunning = this.q.countOpenRuns.get(l.job.id)!.n > 0;
      this.record(l, onFinish(l.policy, l.state, "timeout", judged.reason, r.deadline, stillRunning), stats);
    }
  }

  private fireJobDeadlines(loaded: Map<string, Loaded | null>, stats: TickStats, now: number): void {
    for (const { id } of this.q.dueJobs.all(now, MAX_DEADLINES_PER_TICK)) {
      const l = this.load(loaded, id);
      if (!l) continue;
      l.dirty = true;
      stats.deadlines++;
      const { flips, renotify } = onDeadline(l.policy, l.state, now);
      this.record(l, flips, stats);
      if (renotify) this.notify(l, null, "renotify", `still ${l.state.status}`, now, stats);
    }
  }

  /** Writes flips and queues their notifications. */
  private record(l: Loaded, flips: Flip[], stats: TickStats): void {
    for (const f of flips) {
      const flipId = this.q.insertFlip.get(l.job.tenant_id, l.job.id, f.from, f.to, f.reason, f.at)!.id;
      stats.flips++;
      if (f.notify) this.notify(l, flipId, f.notify, f.reason, f.at, stats, f.from);
    }
  }

  private notify(l: Loaded, flipId: number | null, event: AlertMessage["event"], reason: string, at: number, stats: TickStats, from?: string): void {
    const { job, state } = l;
    const channels = findChannelsByName(this.ctx.db, job.tenant_id, job.channels);
    if (channels.length === 0) return;
    const tenant = this.q.tenant.get(job.tenant_id)!;
    const message: AlertMessage = {
      event,
      tenant: { slug: tenant.slug, name: tenant.name },
      job: { id: job.id, namespace: job.namespace, name: job.name, url: jobConsoleUrl(this.ctx.baseUrl, job.namespace, job.name) },
      status: state.status,
      previous_status: from ?? null,
      reason,
      since: new Date(state.status_since ?? at).toISOString(),
      last_output: tailOutput(this.q.lastOutput.get(job.id)?.output ?? null),
      dedup_key: `crontopus-${job.id}`,
    };
    for (const ch of channels) {
      const dedupKey = flipId !== null ? `flip:${flipId}:${ch.id}` : `${event}:${job.id}:${at}:${ch.id}`;
      enqueueNotification(this.ctx.db, { tenantId: job.tenant_id, channelId: ch.id, jobId: job.id, flipId, event, dedupKey, message }, at);
      stats.notifications++;
    }
  }
}

