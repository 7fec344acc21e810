// The one owner of every job's monitoring state (status, counters, deadlines, the head of its
// history). Busy jobs' state is held here in memory, ahead of the job row, and written back in
// a coalesced sweep; every surface reads a job's current state through `current`, and every
// change of it goes through this class: the engine's check-ins and deadlines, and the job
// service's create, change, pause, resume and delete (`changed`, `dropped`). Nothing else writes
// the monitoring columns of `jobs`, so nothing has to be told to write back or forget. For the
// same reason it is what tells the live event stream (src/events/hub.ts) that a job changed.
import type { Db } from "../db";
import type { JobMonitoring, JobRow } from "../jobs/types";
import { policyOf, rescheduled, type Policy, type State } from "./state";
import { eventHub, type EventHub } from "../events/hub";

type StateRow = { rowid: number } & Pick<
  JobRow,
  | "id" | "tenant_id" | "namespace" | "name" | "schedule" | "timezone" | "grace_s" | "timeout_s" | "alert_after" | "min_runtime_s"
  | "start_grace_s" | "renotify_s" | "channels" | "enabled" | "paused" | "status" | "status_since" | "consecutive_failures"
  | "checkins_total" | "last_ping_at" | "last_success_at" | "last_failure_at" | "last_duration_ms" | "last_exit_code"
  | "expected_at" | "next_deadline" | "last_notified_at" | "last_checkin_id" | "open_runs" | "alerting"
>;

/** The job as the engine sees it: its policy inputs and its counters. */
export type HeldJob = Omit<StateRow, "rowid" | "channels" | "enabled" | "paused" | "alerting"> & {
  channels: string[] | null;
  enabled: boolean;
  paused: boolean;
  alerting: boolean;
};

export interface Held {
  job: HeldJob;
  policy: Policy;
  state: State;
  /** Changed since last written back. */
  dirty: boolean;
  /** Changed status or rows: written back at the end of the transaction that changed it. */
  urgent: boolean;
  /** When it was first changed since written back. */
  dirtySince: number;
  /** The job row's rowid: write-backs go in rowid order, so each page of the table is written once per sweep. */
  rowid: number;
  /** The first check-in applied to it since written back: the log must be replayed from there after a crash. */
  firstUnsaved: number | null;
  /** No longer held (dropped, deleted, forgotten): whoever kept it (a writer's Head) must load the job again. */
  gone: boolean;
}

/** The monitoring fields as every surface shows them. */
export type MonitoringFields = JobMonitoring & { status: JobRow["status"] };

/** Jobs kept in memory between write-backs; clean ones beyond this are dropped. */
const MAX_HELD = 50_000;

const SELECT = `SELECT rowid, id, tenant_id, namespace, name, schedule, timezone, grace_s, timeout_s, alert_after, min_runtime_s,
   start_grace_s, renotify_s, channels, enabled, paused, status, status_since, consecutive_failures, checkins_total,
   last_ping_at, last_success_at, last_failure_at, last_duration_ms, last_exit_code, expected_at, next_deadline,
   last_notified_at, last_checkin_id, open_runs, alerting FROM jobs`;

export class JobStates {
  private readonly held = new Map<string, Held>();
  /** Held and changed since written back. */
  readonly dirty = new Set<Held>();
  private urgentQueue: Held[] = [];
  /** The highest rowid held: the sweep's range. */
  maxRowid = 0;
  /**
   * Moves on whenever a job is deleted or a delete is rolled back: a lookup cached at another
   * generation (the ping token cache) asks the database again before it answers. One integer
   * compare on the hot path; a search of a set of deleted ids touched cold memory per ping.
   */
  generation = 0;
  private readonly q;
  /** Told of every change while someone listens to the tenant's events. */
  private readonly events: EventHub;

  constructor(db: Db) {
    this.events = eventHub(db);
    this.q = {
      job: db.query<StateRow, [string]>(`${SELECT} WHERE id = ?`),
      // Positional: status, status_since, consecutive_failures, checkins_total, last_ping_at,
      // last_success_at, last_failure_at, last_duration_ms, last_exit_code, expected_at,
      // last_notified_at, last_checkin_id, open_runs, alerting, [next_deadline], rowid, id.
      // saveCounters leaves the deadline index alone when it did not move. By rowid, checked
      // against the id: no index to search, and a rowid that moved (VACUUM) matches nothing and
      // is looked up again.
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
    };
  }

  /** The job's state, held from now on; null for a job that does not exist (any more). */
  load(jobId: string): Held | null {
    const cached = this.held.get(jobId);
    if (cached) return cached;
    const row = this.q.job.get(jobId);
    return row ? this.hold(row) : null;
  }

  private hold(row: StateRow): Held {
    const jobId = row.id;
    const job = heldJob(row);
    const h: Held = { job, policy: policyOf(job), state: stateOf(job), dirty: false, urgent: false, dirtySince: 0, firstUnsaved: null, rowid: row.rowid, gone: false };
    if (row.rowid > this.maxRowid) this.maxRowid = row.rowid;
    this.held.set(jobId, h);
    return h;
  }

  /**
   * The one read of a job's monitoring state: the stored fields, or what is held in memory when
   * that is ahead of them. Every surface (API, console, CLI, metrics, badges, run history) goes
   * through here.
   */
  current<T extends MonitoringFields & { id: string }>(stored: T): T {
    const h = this.held.get(stored.id);
    if (!h || !h.dirty) return stored;
    const { job: j, state: s } = h;
    return {
      ...stored,
      status: s.status,
      status_since: s.status_since,
      consecutive_failures: s.consecutive_failures,
      expected_at: s.expected_at,
      next_deadline: s.next_deadline,
      last_notified_at: s.last_notified_at,
      alerting: s.alerting,
      ...countersOf(j),
    };
  }

  /** What is held for a job when it is ahead of the row. */
  ahead(jobId: string): Held | undefined {
    const h = this.held.get(jobId);
    return h?.dirty ? h : undefined;
  }

  /** The newest check-in applied to a job: the head of its history. */
  head(jobId: string, stored: number | null): number | null {
    const h = this.held.get(jobId);
    return h?.dirty ? h.job.last_checkin_id : stored;
  }

  /** Marks a held job changed; `checkinId`: the check-in that changed it. */
  touch(h: Held, now: number, checkinId: number | null = null): void {
    // Before anything else: one property read when no one listens, on the check-in path.
    if (this.events.live) this.events.job(h.job.tenant_id, h.job.id, checkinId);
    if (!h.dirty) {
      h.dirty = true;
      h.dirtySince = now;
      this.dirty.add(h);
    }
    if (checkinId !== null && h.firstUnsaved === null) h.firstUnsaved = checkinId;
  }

  /** Changed status or rows: written back by the next flushUrgent, in the same transaction. */
  urgent(h: Held): void {
    if (!h.urgent) {
      h.urgent = true;
      this.urgentQueue.push(h);
    }
  }

  flushUrgent(): void {
    for (const h of this.urgentQueue) {
      if (h.dirty) this.save(h);
      h.urgent = false;
    }
    this.urgentQueue = [];
  }

  save(h: Held): void {
    const j = h.job;
    const s = h.state;
    const moved = s.next_deadline !== j.next_deadline;
    j.next_deadline = s.next_deadline;
    const alerting = s.alerting ? 1 : 0;
    const write = () =>
      moved
        ? this.q.saveJob.run(
            s.status, s.status_since, s.consecutive_failures, j.checkins_total, j.last_ping_at, j.last_success_at, j.last_failure_at,
            j.last_duration_ms, j.last_exit_code, s.expected_at, s.last_notified_at, j.last_checkin_id, j.open_runs, alerting, s.next_deadline, h.rowid, j.id,
          ).changes
        : this.q.saveCounters.run(
            s.status, s.status_since, s.consecutive_failures, j.checkins_total, j.last_ping_at, j.last_success_at, j.last_failure_at,
            j.last_duration_ms, j.last_exit_code, s.expected_at, s.last_notified_at, j.last_checkin_id, j.open_runs, alerting, h.rowid, j.id,
          ).changes;
    if (write() === 0) {
      const found = this.q.rowidOf.get(j.id);
      if (found) {
        h.rowid = found.rowid;
        write();
      }
    }
    h.dirty = false;
    h.urgent = false;
    h.firstUnsaved = null;
    this.dirty.delete(h);
  }

  /** Drops clean jobs beyond what is kept in memory. */
  trim(): void {
    if (this.held.size <= MAX_HELD) return;
    for (const [id, h] of this.held) {
      if (this.held.size <= MAX_HELD * 0.8) break;
      if (h.dirty) continue;
      h.gone = true;
      this.held.delete(id);
    }
  }

  /**
   * The job service changed a job's spec (created, replaced, patched, paused, resumed): takes the
   * new spec from the row, moves the status when it was paused or resumed, reschedules, and
   * writes the state back in the caller's transaction. A new schedule (or a resume) is expected
   * from now on; other changes keep the pending expectation.
   */
  changed(jobId: string, now: number, scheduleChanged: boolean, wasPaused: boolean): void {
    const row = this.q.job.get(jobId);
    if (!row) return;
    const h = this.held.get(jobId) ?? this.hold(row);
    const spec = heldJob(row);
    // The spec from the row; the counters and state as held.
    h.job = { ...spec, ...countersOf(h.job) };
    h.policy = policyOf(h.job);
    const s = h.state;
    if (h.job.paused && !wasPaused) {
      s.status = "paused";
      s.status_since = now;
    } else if (!h.job.paused && wasPaused) {
      // A resumed job starts afresh: "new" until its next check-in; failures counted while paused do not carry over.
      s.status = "new";
      s.status_since = now;
      s.consecutive_failures = 0;
      s.alerting = false;
    } else if (scheduleChanged && s.status === "late") {
      // Late by the old schedule (no alert went out for it): the new one is expected from now.
      s.status = h.job.open_runs > 0 ? "running" : h.job.last_ping_at !== null ? "up" : "new";
      s.status_since = now;
    }
    h.state = rescheduled(h.policy, s, now, scheduleChanged || h.job.paused !== wasPaused);
    h.job.next_deadline = row.next_deadline; // what the row has, so save writes the new one
    this.touch(h, now);
    this.save(h);
  }

  /** The job is gone: forget it (its check-ins still in the log are skipped). */
  dropped(job: { id: string; tenant_id: string; namespace: string; name: string }): void {
    const jobId = job.id;
    if (this.events.live) this.events.jobGone(job.tenant_id, job);
    const h = this.held.get(jobId);
    if (h) {
      this.dirty.delete(h);
      h.dirty = false;
      h.urgent = false;
      h.gone = true;
      this.held.delete(jobId);
    }
    this.generation++;
  }

  /** Deletes rolled back: cached lookups ask the database again, and the jobs still there answer. */
  undrop(): void {
    this.generation++;
  }

  /** Forgets everything held (a commit of held state failed): the database is the truth again. */
  reset(): void {
    for (const h of this.held.values()) h.gone = true;
    this.held.clear();
    this.dirty.clear();
    this.urgentQueue = [];
    this.maxRowid = 0;
  }
}

function heldJob(row: StateRow): HeldJob {
  const { rowid: _, ...fields } = row;
  return {
    ...fields,
    channels: row.channels ? JSON.parse(row.channels) : null,
    enabled: row.enabled === 1,
    paused: row.paused === 1,
    alerting: row.alerting === 1,
  };
}

function stateOf(j: HeldJob): State {
  return {
    status: j.status,
    status_since: j.status_since,
    consecutive_failures: j.consecutive_failures,
    expected_at: j.expected_at,
    next_deadline: j.next_deadline,
    last_notified_at: j.last_notified_at,
    alerting: j.alerting,
  };
}

function countersOf(j: HeldJob) {
  return {
    checkins_total: j.checkins_total,
    last_ping_at: j.last_ping_at,
    last_success_at: j.last_success_at,
    last_failure_at: j.last_failure_at,
    last_duration_ms: j.last_duration_ms,
    last_exit_code: j.last_exit_code,
    last_checkin_id: j.last_checkin_id,
    open_runs: j.open_runs,
  };
}

const owners = new WeakMap<Db, JobStates>();

/** The owner of the database's job states: one per database connection, made on first use. */
export function jobStates(db: Db): JobStates {
  let s = owners.get(db);
  if (!s) owners.set(db, (s = new JobStates(db)));
  return s;
}
