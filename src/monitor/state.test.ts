// The status machine, as stories about one job. Times are ms; T0 is a Monday 00:00 UTC.
import { describe, expect, test } from "bun:test";
import { parseSchedule } from "../jobs/schedule";
import { deadlineOf, judgeRun, onDeadline, onFinish, onStart, rescheduled, type Policy, type State } from "./state";

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);
const MIN = 60_000;

function policy(over: Partial<Policy> = {}): Policy {
  return {
    schedule: parseSchedule("schedule", "*/10 * * * *", "UTC"),
    timezone: "UTC",
    grace_s: 300,
    timeout_s: null,
    alert_after: 1,
    min_runtime_s: null,
    start_grace_s: null,
    renotify_s: null,
    silenced: false,
    ...over,
  };
}

function fresh(p: Policy, now = T0): State {
  return rescheduled(p, { status: "new", status_since: now, consecutive_failures: 0, expected_at: null, next_deadline: null, last_notified_at: null, alerting: false }, now, true);
}

describe("a job that stops checking in", () => {
  test("is late at its expected time, down after the grace, with one trigger", () => {
    const p = policy();
    const s = fresh(p, T0 + 1000);
    expect(s.expected_at).toBe(T0 + 10 * MIN);
    expect(deadlineOf(p, s)).toBe(T0 + 10 * MIN);
    expect(onDeadline(p, s, T0 + 10 * MIN - 1).flips).toEqual([]);
    const late = onDeadline(p, s, T0 + 10 * MIN);
    expect(late.flips.map((f) => [f.from, f.to, f.notify])).toEqual([["new", "late", null]]);
    expect(s.next_deadline).toBe(T0 + 15 * MIN);
    const down = onDeadline(p, s, T0 + 15 * MIN);
    expect(down.flips.map((f) => [f.from, f.to, f.notify])).toEqual([["late", "down", "trigger"]]);
    expect(s.next_deadline).toBeNull();
  });

  test("walks both deadlines at their own times when the engine looks late (e.g. after a restart)", () => {
    const p = policy();
    const s = fresh(p);
    const { flips } = onDeadline(p, s, T0 + 60 * MIN);
    expect(flips.map((f) => [f.to, f.at])).toEqual([
      ["late", T0 + 10 * MIN],
      ["down", T0 + 15 * MIN],
    ]);
  });

  test("goes down at the start grace when one is set", () => {
    const p = policy({ start_grace_s: 60 });
    const s = fresh(p);
    onDeadline(p, s, T0 + 10 * MIN);
    expect(s.next_deadline).toBe(T0 + 11 * MIN);
  });

  test("is reminded every renotify interval while down", () => {
    const p = policy({ renotify_s: 3600 });
    const s = fresh(p);
    onDeadline(p, s, T0 + 15 * MIN);
    expect(s.status).toBe("down");
    expect(s.next_deadline).toBe(T0 + 15 * MIN + 3600_000);
    const r = onDeadline(p, s, T0 + 15 * MIN + 3600_000);
    expect(r.renotify).toBe(true);
    expect(r.flips).toEqual([]);
    expect(s.next_deadline).toBe(T0 + 15 * MIN + 7200_000);
  });

  test("recovers with one resolve on its next success", () => {
    const p = policy();
    const s = fresh(p);
    onDeadline(p, s, T0 + 20 * MIN);
    const flips = onFinish(p, s, "success", null, T0 + 21 * MIN, false);
    expect(flips.map((f) => [f.from, f.to, f.notify])).toEqual([["down", "up", "resolve"]]);
    expect(s.expected_at).toBe(T0 + 30 * MIN);
  });
});

describe("failures", () => {
  test("alert after N failures in a row, not before", () => {
    const p = policy({ alert_after: 3 });
    const s = fresh(p);
    expect(onFinish(p, s, "failed", "exit code 1", T0 + MIN, false).map((f) => f.to)).toEqual(["up"]);
    expect(onFinish(p, s, "failed", "exit code 1", T0 + 2 * MIN, false)).toEqual([]);
    const third = onFinish(p, s, "failed", "exit code 1", T0 + 3 * MIN, false);
    expect(third.map((f) => [f.to, f.notify])).toEqual([["failed", "trigger"]]);
    expect(third[0]!.reason).toContain("3 in a row");
    expect(s.consecutive_failures).toBe(3);
  });

  test("a success resets the count", () => {
    const p = policy({ alert_after: 2 });
    const s = fresh(p);
    onFinish(p, s, "failed", "x", T0 + MIN, false);
    onFinish(p, s, "success", null, T0 + 2 * MIN, false);
    expect(onFinish(p, s, "failed", "x", T0 + 3 * MIN, false).map((f) => f.to)).not.toContain("failed");
  });

  test("a run shorter than the minimum run time counts as failed", () => {
    const p = policy({ min_runtime_s: 10 });
    expect(judgeRun(p, { result: "success", at: 0, duration_ms: 2000, exit_code: 0 })).toEqual({
      status: "failed",
      reason: "ran 2.0s, less than the minimum 10s",
    });
    expect(judgeRun(p, { result: "success", at: 0, duration_ms: 12_000, exit_code: 0 }).status).toBe("success");
    // Without a start (unknown duration) the minimum cannot be judged.
    expect(judgeRun(p, { result: "success", at: 0, duration_ms: null, exit_code: 0 }).status).toBe("success");
  });

  test("a timeout fails the job without moving the schedule", () => {
    const p = policy({ timeout_s: 60 });
    const s = fresh(p);
    onStart(p, s, T0 + MIN);
    const expected = s.expected_at;
    const flips = onFinish(p, s, "timeout", "no finish within the timeout of 60s", T0 + 2 * MIN, false);
    expect(flips.map((f) => [f.from, f.to, f.notify])).toEqual([["running", "failed", "trigger"]]);
    expect(s.expected_at).toBe(expected);
  });
});

describe("one trigger, one resolve", () => {
  test("a down job that recovers through a start sends its resolve when the run succeeds", () => {
    const p = policy();
    const s = fresh(p);
    onDeadline(p, s, T0 + 20 * MIN);
    expect(s.status).toBe("down");
    expect(onStart(p, s, T0 + 21 * MIN).map((f) => [f.to, f.notify])).toEqual([["running", null]]);
    expect(onFinish(p, s, "success", null, T0 + 22 * MIN, false).map((f) => [f.to, f.notify])).toEqual([["up", "resolve"]]);
  });

  test("a failed job that starts and fails again does not trigger again", () => {
    const p = policy();
    const s = fresh(p);
    expect(onFinish(p, s, "failed", "exit code 1", T0 + MIN, false).map((f) => f.notify)).toEqual(["trigger"]);
    onStart(p, s, T0 + 10 * MIN);
    expect(onFinish(p, s, "failed", "exit code 1", T0 + 11 * MIN, false).map((f) => [f.to, f.notify])).toEqual([["failed", null]]);
  });

  test("a failure below the threshold does not resolve a down job", () => {
    const p = policy({ alert_after: 3 });
    const s = fresh(p);
    onDeadline(p, s, T0 + 20 * MIN);
    expect(onFinish(p, s, "failed", "exit code 1", T0 + 21 * MIN, false)).toEqual([]);
    expect(s.status).toBe("down");
  });

  test("a check-in delivered late never moves the expectation backwards", () => {
    const p = policy();
    const s = fresh(p);
    onFinish(p, s, "success", null, T0 + 31 * MIN, false);
    expect(s.expected_at).toBe(T0 + 40 * MIN);
    onFinish(p, s, "success", null, T0 + 1 * MIN, false);
    expect(s.expected_at).toBe(T0 + 40 * MIN);
  });
});

describe("runs", () => {
  test("start makes the job running; success makes it up; overlapping runs stay running", () => {
    const p = policy();
    const s = fresh(p);
    expect(onStart(p, s, T0 + MIN).map((f) => f.to)).toEqual(["running"]);
    expect(onFinish(p, s, "success", null, T0 + 2 * MIN, true)).toEqual([]);
    expect(s.status).toBe("running");
    expect(onFinish(p, s, "success", null, T0 + 3 * MIN, false).map((f) => f.to)).toEqual(["up"]);
  });

  test("a silenced (paused) job records nothing as a flip and has no deadline", () => {
    const p = policy({ silenced: true });
    const s: State = { status: "paused", status_since: T0, consecutive_failures: 0, expected_at: null, next_deadline: null, last_notified_at: null, alerting: false };
    expect(onStart(p, s, T0)).toEqual([]);
    expect(onFinish(p, s, "failed", "x", T0, false)).toEqual([]);
    expect(s.status).toBe("paused");
    expect(s.next_deadline).toBeNull();
    expect(rescheduled(p, s, T0, true).next_deadline).toBeNull();
  });

  test("@every schedules expect the next check-in one period after the last", () => {
    const p = policy({ schedule: parseSchedule("schedule", "@every 30s", "UTC"), grace_s: 5 });
    const s = fresh(p);
    onFinish(p, s, "success", null, T0 + 7_000, false);
    expect(s.expected_at).toBe(T0 + 37_000);
    expect(s.next_deadline).toBe(T0 + 37_000);
  });
});
