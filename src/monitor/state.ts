// The status machine of one job, as pure functions: (policy, state, event, time) -> new state.
// The engine (engine.ts) feeds it check-ins and deadlines and writes what changed.
import { nextRun, parseSchedule, type Schedule } from "../jobs/schedule";
import type { Job, JobStatus } from "../jobs/types";
import { isoTime } from "../time";

export interface Policy {
  schedule: Schedule;
  timezone: string;
  grace_s: number;
  timeout_s: number | null;
  alert_after: number;
  min_runtime_s: number | null;
  start_grace_s: number | null;
  renotify_s: number | null;
  /** Paused or disabled: check-ins are recorded, nothing flips or alerts. */
  silenced: boolean;
  /** The last answer of expectedAfter for a cron schedule: valid for any t in [after, next). */
  memo?: { after: number; next: number };
}

export interface State {
  status: JobStatus;
  status_since: number | null;
  consecutive_failures: number;
  expected_at: number | null;
  next_deadline: number | null;
  last_notified_at: number | null;
  /** A trigger went out and no resolve since. */
  alerting: boolean;
}

export function policyOf(
  job: Pick<Job, "schedule" | "timezone" | "grace_s" | "timeout_s" | "alert_after" | "min_runtime_s" | "start_grace_s" | "renotify_s" | "paused" | "enabled">,
): Policy {
  return {
    schedule: parseSchedule("schedule", job.schedule, job.timezone),
    timezone: job.timezone,
    grace_s: job.grace_s,
    timeout_s: job.timeout_s,
    alert_after: job.alert_after,
    min_runtime_s: job.min_runtime_s,
    start_grace_s: job.start_grace_s,
    renotify_s: job.renotify_s,
    silenced: job.paused || !job.enabled,
  };
}

/** A change of status, with what (if anything) to tell the job's channels. */
export interface Flip {
  from: JobStatus;
  to: JobStatus;
  reason: string;
  at: number;
  notify: "trigger" | "resolve" | null;
}

const ALERTING: ReadonlySet<JobStatus> = new Set(["down", "failed"]);

/** When the next run is due after `t`. */
export function expectedAfter(p: Policy, t: number): number {
  if (p.schedule.kind === "every") return nextRun(p.schedule, p.timezone, t, t);
  // No run lies between `after` and `next`, so any t in between has the same next run.
  if (p.memo && p.memo.after <= t && t < p.memo.next) return p.memo.next;
  const next = nextRun(p.schedule, p.timezone, t, t);
  p.memo = { after: t, next };
  return next;
}

/** When the engine must next look at the job, given its state. */
export function deadlineOf(p: Policy, s: State): number | null {
  if (p.silenced) return null;
  switch (s.status) {
    case "new":
    case "up":
    case "running":
      return s.expected_at;
    case "late":
      return s.expected_at === null ? null : s.expected_at + (p.start_grace_s ?? p.grace_s) * 1000;
    case "down":
    case "failed":
      return p.renotify_s && s.last_notified_at !== null ? s.last_notified_at + p.renotify_s * 1000 : null;
    default:
      return null;
  }
}

/**
 * One trigger when a job starts alerting (down or failed), one resolve when it is up again,
 * whatever it passes through in between (running, late, failed again).
 */
function moveTo(s: State, to: JobStatus, reason: string, at: number, flips: Flip[]): void {
  if (s.status === to) return;
  const from = s.status;
  let notify: Flip["notify"] = null;
  if (ALERTING.has(to) && !s.alerting) {
    notify = "trigger";
    s.alerting = true;
    s.last_notified_at = at;
  } else if (to === "up" && s.alerting) {
    notify = "resolve";
    s.alerting = false;
  }
  flips.push({ from, to, reason, at, notify });
  s.status = to;
  s.status_since = at;
}

/** Check-ins delivered late (e.g. spooled) never move the expectation backwards. */
function expectFrom(p: Policy, s: State, at: number): void {
  const next = expectedAfter(p, at);
  if (s.expected_at === null || next > s.expected_at) s.expected_at = next;
}

export interface RunOutcome {
  /** success, failed (exit code or /fail), or timeout (the engine found no finish in time). */
  result: "success" | "failed" | "timeout";
  at: number;
  duration_ms: number | null;
  exit_code: number | null;
}

/** Judges a finished run against the policy: a too-short success counts as a failure. */
export function judgeRun(p: Policy, o: RunOutcome): { status: "success" | "failed" | "timeout"; reason: string | null } {
  if (o.result === "timeout") return { status: "timeout", reason: `no finish within the timeout of ${p.timeout_s}s` };
  if (o.result === "failed") return { status: "failed", reason: o.exit_code !== null ? `exit code ${o.exit_code}` : "reported failure" };
  if (p.min_runtime_s && o.duration_ms !== null && o.duration_ms < p.min_runtime_s * 1000) {
    return { status: "failed", reason: `ran ${(o.duration_ms / 1000).toFixed(1)}s, less than the minimum ${p.min_runtime_s}s` };
  }
  return { status: "success", reason: null };
}

/** A run started. */
export function onStart(p: Policy, s: State, at: number): Flip[] {
  const flips: Flip[] = [];
  expectFrom(p, s, at);
  if (!p.silenced) moveTo(s, "running", "started", at, flips);
  s.next_deadline = deadlineOf(p, s);
  return flips;
}

/** A run finished (or timed out), already judged by judgeRun. */
export function onFinish(p: Policy, s: State, status: "success" | "failed" | "timeout", reason: string | null, at: number, stillRunning: boolean): Flip[] {
  const flips: Flip[] = [];
  // A timeout is found late by the engine; the schedule moves on from a real check-in only.
  if (status !== "timeout") expectFrom(p, s, at);
  if (status === "success") {
    s.consecutive_failures = 0;
    if (!p.silenced) moveTo(s, stillRunning ? "running" : "up", "succeeded", at, flips);
  } else {
    s.consecutive_failures++;
    const what = status === "timeout" ? reason! : `failed: ${reason}`;
    if (!p.silenced) {
      if (s.consecutive_failures >= p.alert_after) {
        moveTo(s, "failed", s.consecutive_failures > 1 ? `${what} (${s.consecutive_failures} in a row)` : what, at, flips);
      } else if (!s.alerting) {
        moveTo(s, stillRunning ? "running" : "up", `${what} (${s.consecutive_failures} of ${p.alert_after} before alerting)`, at, flips);
      }
      // Below the threshold while alerting (e.g. down): a failure is no recovery; the status stays.
    }
  }
  s.next_deadline = deadlineOf(p, s);
  return flips;
}

/** The job's deadline passed: late, then down, then reminders. Returns flips and whether to re-notify. */
export function onDeadline(p: Policy, s: State, now: number): { flips: Flip[]; renotify: boolean } {
  const flips: Flip[] = [];
  let renotify = false;
  if (p.silenced) {
    s.next_deadline = null;
    return { flips, renotify };
  }
  // No expectation while watched: the stored one was impossible and repaired away (migration
  // 0006). Expect the job from now on, as after a resume.
  if (s.expected_at === null && (s.status === "new" || s.status === "up" || s.status === "running")) s.expected_at = expectedAfter(p, now);
  // Several deadlines may have passed (e.g. the server was down): walk them in order, at their own times.
  for (let guard = 0; guard < 4; guard++) {
    const d = deadlineOf(p, s);
    if (d === null || d > now) break;
    if (s.status === "new" || s.status === "up" || s.status === "running") {
      moveTo(s, "late", `no check-in by ${isoTime(s.expected_at!)}`, d, flips);
    } else if (s.status === "late") {
      const grace = p.start_grace_s ?? p.grace_s;
      moveTo(s, "down", `no check-in by ${isoTime(s.expected_at!)} plus ${p.start_grace_s !== null ? "start grace" : "grace"} of ${grace}s`, d, flips);
    } else if (s.status === "down" || s.status === "failed") {
      renotify = true;
      s.last_notified_at = now;
      break;
    } else break;
  }
  s.next_deadline = deadlineOf(p, s);
  return { flips, renotify };
}

/**
 * State for a job just created, changed, paused or resumed. A new schedule (or a resume) is
 * expected from now on; other changes keep the pending expectation.
 */
export function rescheduled(p: Policy, s: State, now: number, scheduleChanged: boolean): State {
  const next = { ...s };
  if (p.silenced) {
    next.next_deadline = null;
    return next;
  }
  if (next.expected_at === null || scheduleChanged) next.expected_at = expectedAfter(p, now);
  next.next_deadline = deadlineOf(p, next);
  return next;
}
