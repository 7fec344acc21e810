// How a job's schedule goes on a host whose cron runs in another zone, and the gate that
// `crontopus exec` applies when the line fires more often than the job is due (isDue). Pure;
// kept apart from the crontab text rules (crontab.ts) so that exec's gate loads only this, the
// schedule evaluator and the zone arithmetic.
//
// - cron-tz hosts (cronie): `CRON_TZ=<job zone>` and the schedule as written.
// - Other hosts (Debian's Vixie cron), job zone keeping the host's clock (the same zone, or
//   one with the same offsets at every instant of the window below): the schedule as written.
// - Otherwise superset-and-gate: a host-time schedule that fires at least whenever the job is
//   due; `crontopus exec` skips the extra runs with isDue. See supersetSchedule.
import { Invalid } from "../src/errors";
import { cronFields, nextRun, parseSchedule, validateTimezone, type Schedule } from "../src/jobs/schedule";
import { offsetAt, ZoneWindow } from "../src/jobs/zone";

/** How a job's schedule is put on the host: see the file header. */
export type LineStrategy = "as-is" | "cron-tz" | "superset";

const ZONE_CHARS_RE = /^[A-Za-z0-9_+\-/]+$/;
const SCHEDULE_RE = /^(?:@[a-z]+|[0-9A-Za-z*,/-]+(?: [0-9A-Za-z*,/-]+){4})$/;

const MINUTE = 60_000;
const DAY = 86_400_000;

// The superset is computed over the offsets and DST changes both zones have in this window:
// it starts after the agent was written, so long-gone offsets do not widen it, and it is long
// enough to hold every weekday and date a yearly rule can fall on. A new tz database in a new
// agent binary (a country dropping DST) changes the result, and the next sync rewrites the line.
const WINDOW = new ZoneWindow(Date.UTC(2025, 0, 1), Date.UTC(2065, 0, 1));

const supersets = new Map<string, string>();
const CACHE_CAP = 1000;

/**
 * How a job's schedule goes on this host's crontab, and the schedule text for its line.
 * `crontopus exec` must gate on isDue exactly when the strategy is "superset".
 */
export function hostSchedule(
  schedule: string,
  timezone: string,
  host: { timezone: string; supportsCronTz: boolean },
): { strategy: LineStrategy; schedule: string } {
  const tz = checkZone("timezone", timezone);
  const hostTz = checkZone("host.timezone", host.timezone);
  const s = cronSchedule("schedule", schedule, tz);
  if (host.supportsCronTz) return { strategy: "cron-tz", schedule: s.expr };
  if (WINDOW.sameClock(tz, hostTz)) return { strategy: "as-is", schedule: s.expr };
  return { strategy: "superset", schedule: supersetSchedule(s.expr, tz, hostTz) };
}

/** Whether a job with this schedule runs in the minute starting at (or containing) `minuteStartMs`. */
export function isDue(schedule: string, timezone: string, minuteStartMs: number): boolean {
  const tz = checkZone("timezone", timezone);
  const minute = Math.floor(minuteStartMs / MINUTE) * MINUTE;
  return nextRun(cronSchedule("schedule", schedule, tz), tz, minute - 1) < minute + MINUTE;
}

/** A schedule a crontab line can hold: classic cron or a macro, not @every. */
export function cronSchedule(field: string, expr: string, tz: string): Schedule & { kind: "cron" } {
  if (typeof expr === "string" && /^\s*@every\b/i.test(expr)) {
    throw new Invalid(field, "@every schedules are ping-only and cannot go in a crontab; use a cron expression");
  }
  const s = parseSchedule(field, expr, tz);
  if (s.kind !== "cron" || !SCHEDULE_RE.test(s.expr)) throw new Invalid(field, `"${expr}" cannot be written to a crontab`);
  return s;
}

/** A zone name a CRON_TZ= line can hold. */
export function checkZone(field: string, tz: string): string {
  const name = validateTimezone(field, tz);
  // It goes on a CRON_TZ= line as it is.
  if (!ZONE_CHARS_RE.test(name)) throw new Invalid(field, `"${tz}" cannot be written to a crontab`);
  return name;
}

/**
 * A host-time schedule that fires at every instant the job is due in its own zone, under
 * Vixie cron's DST rules as src/jobs/schedule.ts models them:
 * - minutes and hours: every (hour, minute) of the job, shifted by every difference between
 *   the two zones' offsets that occurs in the window (whole-hour differences leave the minutes
 *   as they are);
 * - a fixed-time job scheduled inside its zone's spring-forward gap runs at the end of the gap,
 *   at a time not in its own fields: that instant's host time is added too;
 * - days: kept when no shifted time crosses midnight (the date is then the same in both
 *   zones), else "* * *";
 * - when the host's zone has DST, the line must follow the clock, as cron does for lines whose
 *   minute or hour field starts with "*": a job due in the second pass of a repeated host hour
 *   would otherwise be missed, because cron runs a fixed-time line once, at the first pass.
 *   "*\/59," in the minutes (adds :00 and :59) or "*\/23," in the hours (adds 00 and 23 h),
 *   whichever adds fewer runs, does that.
 */
function supersetSchedule(expr: string, jobTz: string, hostTz: string): string {
  const key = `${expr}\n${jobTz}\n${hostTz}`;
  const hit = supersets.get(key);
  if (hit !== undefined) return hit;
  const job = WINDOW.timeline(jobTz);
  const host = WINDOW.timeline(hostTz);
  const { fields, minutes, hours } = cronFields(expr);
  const hostMinutes = new Set<number>();
  const hostHours = new Set<number>();
  let crossesMidnight = false;
  for (const diff of WINDOW.offsetDifferences(jobTz, hostTz)) {
    for (const h of hours) {
      for (const m of minutes) {
        const t = h * 60 + m + diff / MINUTE;
        if (t < 0 || t >= 1440) crossesMidnight = true;
        const wrapped = mod(t, 1440);
        hostHours.add(Math.floor(wrapped / 60));
        hostMinutes.add(wrapped % 60);
      }
    }
  }
  const s = parseSchedule("schedule", expr, jobTz);
  for (const change of job.changes) {
    if (change.after <= change.before || !runsAt(s, jobTz, change.at)) continue;
    const hostWall = change.at + offsetAt(change.at, hostTz);
    const t = mod(Math.floor(hostWall / MINUTE), 1440);
    hostHours.add(Math.floor(t / 60));
    hostMinutes.add(t % 60);
    // The skipped times' date in the job's zone must be the host's date at the run.
    const hostDate = Math.floor(hostWall / DAY);
    if (Math.floor((change.at + change.before) / DAY) !== hostDate || Math.floor((change.at + change.after - MINUTE) / DAY) !== hostDate) {
      crossesMidnight = true;
    }
  }
  let minuteField = listField([...hostMinutes], 0, 59);
  let hourField = listField([...hostHours], 0, 23);
  if (host.changes.length > 0 && !minuteField.startsWith("*") && !hourField.startsWith("*")) {
    const extraMinutes = hostHours.size * [0, 59].filter((m) => !hostMinutes.has(m)).length;
    const extraHours = hostMinutes.size * [0, 23].filter((h) => !hostHours.has(h)).length;
    if (extraMinutes <= extraHours) minuteField = starField(59, [...hostMinutes].filter((m) => m !== 0 && m !== 59), 59);
    else hourField = starField(23, [...hostHours].filter((h) => h !== 0 && h !== 23), 23);
  }
  const days = fields.slice(2).join(" ");
  const result = `${minuteField} ${hourField} ${crossesMidnight ? "* * *" : days}`;
  if (supersets.size >= CACHE_CAP) supersets.delete(supersets.keys().next().value!);
  supersets.set(key, result);
  return result;
}

/** "*" for the whole range, else the values with runs of three or more as ranges: "0,5-9,30". */
function listField(values: number[], min: number, max: number): string {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  if (sorted.length === max - min + 1) return "*";
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${sorted[i]}-${sorted[j]}`);
    else for (let k = i; k <= j; k++) parts.push(String(sorted[k]));
    i = j + 1;
  }
  return parts.join(",");
}

function starField(step: number, rest: number[], max: number): string {
  return rest.length === 0 ? `*/${step}` : `*/${step},${listField(rest, 0, max)}`;
}

function runsAt(s: Schedule, tz: string, instant: number): boolean {
  return nextRun(s, tz, instant - 1) === instant;
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
