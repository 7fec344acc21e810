// The agent's Windows backend: job schedules as Task Scheduler triggers, a complete task
// XML per job, and reconciling the \Crontopus\ folder through schtasks.exe.
//
// The task never runs the job's command directly: it runs `crontopus.exe exec --job <id>
// -- <command…>`, which reports the run. When the triggers cannot say exactly what cron
// says (cronToTriggers returns exact: false), they fire at a superset of the true times
// and exec gates each start with isDue (agent/crontab.ts).
//
// Everything here is pure except the CommandRunner: systemRunner is the one place that
// spawns a process, and tests replace it with a fake that plays schtasks.
import { createHash, randomUUID } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Invalid } from "../src/errors";
import { describeSchedule, nextRuns, parseSchedule, type Schedule } from "../src/jobs/schedule";

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Task Scheduler refuses more triggers than this in one task. */
export const MAX_TRIGGERS = 48;

/**
 * Every trigger starts on this host-local date. It only has to be in the past: weekly
 * triggers repeat every week and daily ones every day, so the date never shows through.
 * A fixed date keeps the XML, and so the drift hash, the same on every reconcile.
 */
const BASE_DATE = Date.UTC(2020, 0, 1);

// ---------------------------------------------------------------------------------------
// Triggers: the subset of Task Scheduler's trigger model we write

export type TriggerDays =
  | { kind: "daily" } // ScheduleByDay, DaysInterval 1
  | { kind: "weekly"; daysOfWeek: number[] } // ScheduleByWeek, WeeksInterval 1; 0 = Sunday
  | { kind: "monthly"; months: number[]; daysOfMonth: number[] } // ScheduleByMonth; months 1-12
  | { kind: "monthlyDow"; months: number[]; daysOfWeek: number[] }; // ScheduleByMonthDayOfWeek, every week

export type Trigger =
  | {
      kind: "calendar";
      days: TriggerDays;
      /** Host wall-clock minute of the day of the start (StartBoundary has no offset). */
      at: number;
      /** Repetition: `count` starts in all, `everyMin` apart (Duration = (count - 1) * everyMin). */
      repeat?: { everyMin: number; count: number };
    }
  | {
      kind: "time";
      /** Host-local minute of BASE_DATE, or an absolute instant (written with a Z offset). */
      start: { wall: number } | { utc: number };
      /** Repeats indefinitely, `everyMin` apart. */
      everyMin: number;
    };

// ---------------------------------------------------------------------------------------
// The simulator: when Task Scheduler starts a task, as we model it.
//
// Microsoft documents the behaviour at clock changes as unspecified; we model what has
// been observed and design triggers so that the model's guesses are checked, not trusted:
//   - a calendar trigger starts at its wall time on each matching day. A wall time that
//     occurs twice (clocks go back) starts once, the first time; one that does not occur
//     (clocks go forward) is read with the offset before the jump, so 02:30 starts at 03:30;
//   - a repetition counts elapsed time from the start, and starts again at the end of its
//     Duration too (Vista and later: interval 1m, duration 4m starts 5 times);
//   - starts at the same instant from several triggers are one start (the task's
//     MultipleInstancesPolicy is IgnoreNew).
// The `wall` repetition model is the other reading of the second point: each repetition at
// its wall time, read like a start. Triggers from cronToTriggers cover every run under it
// too, except runs in the second pass of a repeated hour, which nothing on the wall clock
// can reach (the tests check this).

export interface SchedulerModel {
  repetition: "elapsed" | "wall";
}

/** The sorted, distinct instants in [from, to) at which `triggers` start the task on a host in `hostTz`. */
export function fireTimes(
  triggers: readonly Trigger[],
  from: number,
  to: number,
  hostTz: string,
  model: SchedulerModel = { repetition: "elapsed" },
): number[] {
  const out = new Set<number>();
  const wallModel = model.repetition === "wall";
  for (const t of triggers) {
    if (t.kind === "time") {
      const every = t.everyMin * MIN;
      if (wallModel && "wall" in t.start) {
        const startWall = BASE_DATE + t.start.wall * MIN;
        const first = Math.max(0, Math.floor((wallOf(from, hostTz) - 3 * HOUR - startWall) / every));
        for (let k = first; ; k++) {
          const x = startInstant(startWall + k * every, hostTz);
          if (x >= to + 3 * HOUR) break;
          if (x >= from && x < to) out.add(x);
        }
        continue;
      }
      const start = "utc" in t.start ? t.start.utc : startInstant(BASE_DATE + t.start.wall * MIN, hostTz);
      const first = Math.max(0, Math.ceil((from - start) / every));
      for (let x = start + first * every; x < to; x += every) out.add(x);
      continue;
    }
    const every = (t.repeat?.everyMin ?? 0) * MIN;
    const count = t.repeat?.count ?? 1;
    const span = (count - 1) * every;
    // Host-local days whose starts (and repetitions) may reach [from, to).
    const firstDay = Math.max(BASE_DATE, dayOf(wallOf(from - span, hostTz)) - DAY);
    const lastDay = dayOf(wallOf(to, hostTz)) + DAY;
    for (let day = firstDay; day <= lastDay; day += DAY) {
      if (!daysMatch(t.days, day)) continue;
      const s = startInstant(day + t.at * MIN, hostTz);
      for (let k = 0; k < count; k++) {
        const x = wallModel && k > 0 ? startInstant(day + t.at * MIN + k * every, hostTz) : s + k * every;
        if (x >= to) break;
        if (x >= from) out.add(x);
      }
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** Whether a calendar trigger's days include the host-local date `day` (ms of its midnight, as UTC). */
function daysMatch(days: TriggerDays, day: number): boolean {
  const d = new Date(day);
  switch (days.kind) {
    case "daily":
      return true;
    case "weekly":
      return days.daysOfWeek.includes(d.getUTCDay());
    case "monthly":
      return days.months.includes(d.getUTCMonth() + 1) && days.daysOfMonth.includes(d.getUTCDate());
    case "monthlyDow":
      return days.months.includes(d.getUTCMonth() + 1) && days.daysOfWeek.includes(d.getUTCDay());
  }
}

/** The instant Task Scheduler starts a trigger whose wall time is `wall` (see the model above). */
function startInstant(wall: number, tz: string): number {
  const before = offsetAt(wall - DAY, tz);
  const after = offsetAt(wall + DAY, tz);
  const early = wall - before;
  const late = wall - after;
  const valid = [early, late].filter((t) => wallOf(t, tz) === wall);
  if (valid.length > 0) return Math.min(...valid);
  // In a gap: read with the offset before the jump, which lands after it.
  return early;
}

function dayOf(wall: number): number {
  return Math.floor(wall / DAY) * DAY;
}

// ---------------------------------------------------------------------------------------
// Time zones

const formatters = new Map<string, Intl.DateTimeFormat>();
const UTC_NAMES = new Set(["UTC", "Etc/UTC", "GMT", "Etc/GMT"]);

/** The wall-clock time of instant `ms` in `tz`, as if that wall time were UTC (seconds precision). */
function wallOf(ms: number, tz: string): number {
  return Math.floor(ms / 1000) * 1000 + offsetAt(ms, tz);
}

/** UTC offset of `tz` at `ms`: from the zone's table of changes where we have one, else from Intl. */
function offsetAt(ms: number, tz: string): number {
  if (UTC_NAMES.has(tz)) return 0;
  if (ms < SCAN_FROM || ms >= SCAN_TO) return intlOffset(ms, tz);
  const { initial, transitions } = zoneProfile(tz);
  let lo = 0;
  let hi = transitions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (transitions[mid]!.at <= ms) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? initial : transitions[lo - 1]!.after;
}

function intlOffset(ms: number, tz: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(tz, f);
  }
  const v: Record<string, number> = {};
  for (const p of f.formatToParts(whole)) v[p.type] = Number(p.value);
  return Date.UTC(v.year!, v.month! - 1, v.day!, v.hour!, v.minute!, v.second!) - whole;
}

interface Transition {
  at: number;
  before: number;
  after: number;
}

interface ZoneProfile {
  initial: number;
  transitions: Transition[];
}

// The years whose clock changes we check triggers against. tzdata projects today's rules
// forward, so this covers the agent's lifetime; move it along in a decade or two.
const SCAN_FROM = Date.UTC(2020, 0, 1);
const SCAN_TO = Date.UTC(2050, 0, 1);
const profiles = new Map<string, ZoneProfile>();

/** The zone's offset changes between SCAN_FROM and SCAN_TO (sampled daily, then bisected to the second), read once per zone. */
function zoneProfile(tz: string): ZoneProfile {
  let p = profiles.get(tz);
  if (p) return p;
  const initial = intlOffset(SCAN_FROM, tz);
  const transitions: Transition[] = [];
  let prev = initial;
  for (let t = SCAN_FROM + DAY; t <= SCAN_TO; t += DAY) {
    const o = intlOffset(t, tz);
    if (o === prev) continue;
    let lo = t - DAY;
    let hi = t;
    while (hi - lo > 1000) {
      const mid = Math.floor((lo + hi) / 2000) * 1000;
      if (intlOffset(mid, tz) === prev) lo = mid;
      else hi = mid;
    }
    transitions.push({ at: hi, before: prev, after: o });
    prev = o;
  }
  p = { initial, transitions };
  profiles.set(tz, p);
  return p;
}

/** Whether two zones keep the same offset at every instant we look at (Europe/Berlin and Europe/Paris do). */
function sameClock(a: string, b: string): boolean {
  if (a === b) return true;
  const pa = zoneProfile(a);
  const pb = zoneProfile(b);
  if (pa.initial !== pb.initial || pa.transitions.length !== pb.transitions.length) return false;
  return pa.transitions.every((t, i) => {
    const u = pb.transitions[i]!;
    return t.at === u.at && t.after === u.after;
  });
}

/** Every value host offset − job offset takes at some instant, in minutes. */
function offsetDifferences(jobTz: string, hostTz: string): number[] {
  const events = [...zoneProfile(jobTz).transitions, ...zoneProfile(hostTz).transitions].map((t) => t.at);
  const out = new Set<number>([offsetAt(SCAN_FROM, hostTz) - offsetAt(SCAN_FROM, jobTz)]);
  for (const at of events) out.add(offsetAt(at, hostTz) - offsetAt(at, jobTz));
  return [...out].map((o) => o / MIN).sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------
// Cron expressions, expanded (parseSchedule has already checked them)

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};
const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface Cron {
  minutes: number[];
  hours: number[];
  dom: number[];
  months: number[];
  dow: number[];
  /** Vixie: a day must match both day fields when either starts with "*", otherwise either. */
  daysAnd: boolean;
}

function expandCron(expr: string): Cron {
  const fields = (MACROS[expr] ?? expr).split(" ");
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const dows = [...new Set(expandField(dow, 0, 7, WEEKDAYS, 0).map((d) => d % 7))].sort((a, b) => a - b);
  return {
    minutes: expandField(minute, 0, 59),
    hours: expandField(hour, 0, 23),
    dom: expandField(dom, 1, 31),
    months: expandField(month, 1, 12, MONTHS, 1),
    dow: dows,
    daysAnd: dom.startsWith("*") || dow.startsWith("*"),
  };
}

function expandField(text: string, min: number, max: number, names: string[] = [], base = 0): number[] {
  const value = (v: string) => (/^\d+$/.test(v) ? Number(v) : names.indexOf(v.toUpperCase()) + base);
  const set = new Set<number>();
  for (const item of text.split(",")) {
    const [range, step] = item.split("/") as [string, string | undefined];
    let lo = min;
    let hi = max;
    if (range !== "*") {
      const [a, b] = range.split("-") as [string, string | undefined];
      lo = value(a);
      hi = b === undefined ? lo : value(b);
    }
    for (let v = lo; v <= hi; v += Number(step ?? 1)) set.add(v);
  }
  return [...set].sort((a, b) => a - b);
}

function cronDayMatches(c: Cron, day: number): boolean {
  const d = new Date(day);
  if (!c.months.includes(d.getUTCMonth() + 1)) return false;
  const dom = c.dom.includes(d.getUTCDate());
  const dow = c.dow.includes(d.getUTCDay());
  return c.daysAnd ? dom && dow : dom || dow;
}

// ---------------------------------------------------------------------------------------
// From a schedule to triggers

/** Days of the host calendar, and the host minutes of the day the task must start on them. */
interface Component {
  days: TriggerDays;
  times: number[];
}

const ALL_DOM = range(1, 31);

/**
 * Task Scheduler triggers (host wall clock) that start the task at every run time of
 * `schedule` in `timezone`. `exact` says they start it at those times and no others;
 * otherwise they start it at a superset and `crontopus exec` skips the starts that are
 * not due. `anchor` is the instant @every schedules count from.
 */
export function cronToTriggers(
  schedule: string,
  timezone: string,
  hostTimezone: string,
  anchor?: number,
): { triggers: Trigger[]; exact: boolean } {
  // The agent renders every job on every reconcile; the answer never changes.
  const key = `${schedule}\u0000${timezone}\u0000${hostTimezone}\u0000${anchor ?? ""}`;
  let hit = computed.get(key);
  if (!hit) {
    hit = computeTriggers(schedule, timezone, hostTimezone, anchor);
    if (computed.size >= COMPUTED_CAP) computed.delete(computed.keys().next().value!);
    computed.set(key, hit);
  }
  return structuredClone(hit);
}

const COMPUTED_CAP = 2000;
const computed = new Map<string, { triggers: Trigger[]; exact: boolean }>();

function computeTriggers(schedule: string, timezone: string, hostTimezone: string, anchor: number | undefined): { triggers: Trigger[]; exact: boolean } {
  const s = parseSchedule("schedule", schedule, timezone);
  if (s.kind === "every") return everyTriggers(s.seconds, anchor);
  const cron = expandCron(s.expr);
  const same = sameClock(timezone, hostTimezone);
  const plan = same ? sameZonePlan(cron) : crossZonePlan(cron, timezone, hostTimezone);

  let candidates = candidateTriggers(plan.comps);
  let coarse = false;
  if (candidates.length === 0) {
    coarse = true;
    candidates = candidateTriggers(coarsen(plan.comps));
  }
  if (candidates.length === 0) return { triggers: [everyMinute()], exact: false };

  // Check each candidate against the true run times around every clock change either zone
  // makes; take the first that matches exactly, else the first that misses nothing.
  const windows = clockChangeWindows(cron, timezone, hostTimezone, candidates);
  const checks = candidates.map((triggers) => ({ triggers, ...compare(triggers, s, timezone, hostTimezone, windows) }));
  const exact = checks.find((c) => c.missed.length === 0 && c.extra === 0);
  if (exact) return { triggers: exact.triggers, exact: plan.exact && !coarse };
  const covering = checks.find((c) => c.missed.length === 0);
  if (covering) return { triggers: covering.triggers, exact: false };

  // Nothing covers a clock change: add starts at the wall times missed, then check again.
  const first = checks[0]!;
  const patched = withoutCovered([...first.triggers, ...patchTriggers(first.missed, first.triggers, hostTimezone)]);
  if (patched.length <= MAX_TRIGGERS && compare(patched, s, timezone, hostTimezone, windows).missed.length === 0) {
    return { triggers: patched, exact: false };
  }
  return { triggers: [everyMinute()], exact: false };
}

/** Every minute, for ever: the superset of last resort. */
function everyMinute(): Trigger {
  return { kind: "time", start: { wall: 0 }, everyMin: 1 };
}

/**
 * @every counts from an anchor and ignores zones, so a TimeTrigger with an absolute start
 * matches it exactly when the period is whole minutes and at most 31 days (the longest
 * Interval). Without an anchor, or for other periods, start every minute (or at a divisor
 * of the period) and let exec gate; sub-minute phases are then caught at minute resolution.
 */
function everyTriggers(seconds: number, anchor: number | undefined): { triggers: Trigger[]; exact: boolean } {
  if (anchor === undefined || seconds % 60 !== 0) return { triggers: [everyMinute()], exact: false };
  const minutes = seconds / 60;
  const maxInterval = 31 * 24 * 60;
  if (minutes <= maxInterval) return { triggers: [{ kind: "time", start: { utc: anchor }, everyMin: minutes }], exact: true };
  let every = maxInterval;
  while (minutes % every !== 0) every--;
  return { triggers: [{ kind: "time", start: { utc: anchor }, everyMin: every }], exact: false };
}

function sameZonePlan(c: Cron): { comps: Component[]; exact: boolean } {
  const times = c.hours.flatMap((h) => c.minutes.map((m) => h * 60 + m));
  const { days, exact } = dayComponents(c);
  return { comps: days.map((d) => ({ days: d, times })), exact };
}

/**
 * Task Scheduler has one kind of day rule per trigger, so cron's day fields become one or
 * two day rules. Cron's OR (both day fields restricted, neither starting with "*") is two
 * triggers, one per field. Its AND of two restricted fields (odd days that are Mondays) has no
 * equivalent: keep the rule with fewer days, a superset.
 */
function dayComponents(c: Cron): { days: TriggerDays[]; exact: boolean } {
  const allMonths = c.months.length === 12;
  const domAll = c.dom.length === 31;
  const dowAll = c.dow.length === 7;
  const everyDay: TriggerDays = allMonths ? { kind: "daily" } : { kind: "monthly", months: c.months, daysOfMonth: ALL_DOM };
  const byDom: TriggerDays = { kind: "monthly", months: c.months, daysOfMonth: c.dom };
  const byDow: TriggerDays = allMonths ? { kind: "weekly", daysOfWeek: c.dow } : { kind: "monthlyDow", months: c.months, daysOfWeek: c.dow };
  if (c.daysAnd) {
    if (domAll && dowAll) return { days: [everyDay], exact: true };
    if (domAll) return { days: [byDow], exact: true };
    if (dowAll) return { days: [byDom], exact: true };
    return { days: [c.dom.length <= (c.dow.length * 31) / 7 ? byDom : byDow], exact: false };
  }
  if (domAll || dowAll) return { days: [everyDay], exact: true };
  return { days: [byDom, byDow], exact: true };
}

/**
 * A job in another zone than the host's: each job time lands at host time + d for every
 * offset difference d the two zones ever have, possibly on the day before or after. Fire
 * at all of them. That is exact when every difference gives the same host times (the
 * difference never changes, as for UTC jobs on an Asia/Kolkata host, or the job runs on a
 * grid all day long), unless a day-of-month rule moves across a month end; otherwise it is
 * a superset and exec gates. Writing StartBoundary with the job's offset instead would be
 * "synchronize across time zones": one absolute time, wrong for half the year once DST
 * moves the job's clock.
 */
function crossZonePlan(c: Cron, jobTz: string, hostTz: string): { comps: Component[]; exact: boolean } {
  const { days, exact } = dayComponents(c);
  const perDifference = offsetDifferences(jobTz, hostTz).map((d) => shiftedComponents(c, days, d));
  const comps = mergeComponents(perDifference.flatMap((p) => p.comps));
  const same = perDifference.every((p) => JSON.stringify(p.comps) === JSON.stringify(perDifference[0]!.comps));
  return { comps, exact: exact && same && perDifference.every((p) => p.exact) };
}

/** The host days and times of the job's runs when the host clock is `diff` minutes ahead of the job's. */
function shiftedComponents(c: Cron, days: TriggerDays[], diff: number): { comps: Component[]; exact: boolean } {
  const byShift = new Map<number, Set<number>>();
  for (const h of c.hours) {
    for (const m of c.minutes) {
      const t = h * 60 + m + diff;
      const shift = Math.floor(t / 1440);
      if (!byShift.has(shift)) byShift.set(shift, new Set());
      byShift.get(shift)!.add(t - shift * 1440);
    }
  }
  const comps: Component[] = [];
  let exact = true;
  for (const [shift, times] of [...byShift].sort((a, b) => a[0] - b[0])) {
    for (const d of days) {
      comps.push({ days: shiftDays(d, shift), times: sorted(times) });
      // Weekdays rotate exactly; days of the month do not survive a month end.
      if (shift !== 0 && d.kind !== "daily" && d.kind !== "weekly") exact = false;
    }
  }
  return { comps: mergeComponents(comps), exact };
}

/** The host days that job days land on when moved by `shift` days (a superset at month ends). */
function shiftDays(days: TriggerDays, shift: number): TriggerDays {
  if (shift === 0 || days.kind === "daily") return days;
  const rotate = (dows: number[]) => sorted(dows.map((d) => (((d + shift) % 7) + 7) % 7));
  const nextMonths = (months: number[]) => sorted([...months, ...months.map((m) => ((m - 1 + shift + 12) % 12) + 1)]);
  switch (days.kind) {
    case "weekly":
      return { kind: "weekly", daysOfWeek: rotate(days.daysOfWeek) };
    case "monthlyDow":
      return { kind: "monthlyDow", months: nextMonths(days.months), daysOfWeek: rotate(days.daysOfWeek) };
    case "monthly": {
      if (shift > 0) {
        // The 28th-31st may be a month's last day, followed by the next month's 1st.
        const wraps = days.daysOfMonth.some((d) => d >= 28);
        const dom = days.daysOfMonth.filter((d) => d < 31).map((d) => d + 1);
        return { kind: "monthly", months: wraps ? nextMonths(days.months) : days.months, daysOfMonth: sorted(wraps ? [...dom, 1] : dom) };
      }
      // The 1st follows the previous month's last day, whichever of the 28th-31st that is.
      const wraps = days.daysOfMonth.includes(1);
      const dom = days.daysOfMonth.filter((d) => d > 1).map((d) => d - 1);
      return { kind: "monthly", months: wraps ? nextMonths(days.months) : days.months, daysOfMonth: sorted(wraps ? [...dom, 28, 29, 30, 31] : dom) };
    }
  }
}

function mergeComponents(comps: Component[]): Component[] {
  const byDays = new Map<string, Component>();
  comps = [...comps].sort((a, b) => JSON.stringify(a.days).localeCompare(JSON.stringify(b.days)));
  for (const c of comps) {
    const key = JSON.stringify(c.days);
    const have = byDays.get(key);
    if (have) have.times = sorted([...have.times, ...c.times]);
    else byDays.set(key, { days: c.days, times: c.times });
  }
  return [...byDays.values()];
}

/**
 * Coarser times that fit the trigger budget: per component, every hour that has a run gets
 * a regular grid of minutes (the largest step that keeps all its minutes); if that is still
 * too many triggers, one daily component.
 */
function coarsen(comps: Component[]): Component[] {
  const grid = (c: Component): Component => {
    const minutes = sorted(c.times.map((t) => t % 60));
    let step = 60;
    for (const m of minutes) step = gcd(step, m - minutes[0]!);
    const hours = sorted(c.times.map((t) => Math.floor(t / 60)));
    const times = hours.flatMap((h) => range(0, 60 / step - 1).map((k) => h * 60 + (minutes[0]! % step) + k * step));
    return { days: c.days, times };
  };
  const gridded = comps.map(grid);
  if (gridded.reduce((n, c) => n + blocks(c.times)!.length, 0) <= MAX_TRIGGERS) return gridded;
  return [grid({ days: { kind: "daily" }, times: sorted(comps.flatMap((c) => c.times)) })];
}

/** A start time, repeated `count` times `every` minutes apart. */
interface Run {
  at: number;
  every: number;
  count: number;
}

/**
 * Alternative trigger sets for the components, fewest triggers first, each within the
 * budget. They differ in how they behave at clock changes: one repetition through the
 * night counts elapsed time, separate starts follow the wall clock.
 */
function candidateTriggers(comps: Component[]): Trigger[][] {
  const styles: Array<(c: Component) => Trigger[]> = [
    (c) => bestOf(c, true),
    (c) => bestOf(c, false),
    (c) => toTriggers(c.days, byHour(c.times)),
    (c) => toTriggers(c.days, c.times.map((at) => ({ at, every: 0, count: 1 }))),
  ];
  const seen = new Set<string>();
  const out: Trigger[][] = [];
  for (const style of styles) {
    const triggers = comps.flatMap(style);
    const key = JSON.stringify(triggers);
    if (triggers.length > MAX_TRIGGERS || seen.has(key)) continue;
    seen.add(key);
    out.push(triggers);
  }
  return out.sort((a, b) => a.length - b.length);
}

function bestOf(c: Component, allowTimeTrigger: boolean): Trigger[] {
  const whole = blocks(c.times);
  // A regular grid over the whole day, every day: one TimeTrigger repeating for ever
  // follows wildcard cron through clock changes (see the simulator's model).
  if (allowTimeTrigger && c.days.kind === "daily" && whole?.length === 1 && whole[0]!.count * whole[0]!.every === 1440) {
    return [{ kind: "time", start: { wall: whole[0]!.at }, everyMin: whole[0]!.every }];
  }
  const options = [whole, byHour(c.times), byMinute(c.times), arithmeticRuns(c.times)].filter((o): o is Run[] => o !== null);
  options.sort((a, b) => a.length - b.length);
  return toTriggers(c.days, options[0]!);
}

/** Runs as calendar triggers; a run of two is two starts (a Duration equal to its Interval is asking for trouble). */
function toTriggers(days: TriggerDays, runs: Run[]): Trigger[] {
  return runs.flatMap((r): Trigger[] => {
    if (r.count === 1) return [{ kind: "calendar", days, at: r.at }];
    if (r.count === 2) return [{ kind: "calendar", days, at: r.at }, { kind: "calendar", days, at: r.at + r.every }];
    return [{ kind: "calendar", days, at: r.at, repeat: { everyMin: r.every, count: r.count } }];
  });
}

/** Per hour, its minutes as arithmetic runs (every 15 minutes from 9 to 17: one run per hour). */
function byHour(times: number[]): Run[] {
  const hours = sorted(times.map((t) => Math.floor(t / 60)));
  return hours.flatMap((h) =>
    arithmeticRuns(times.filter((t) => Math.floor(t / 60) === h).map((t) => t % 60)).map((r) => ({ ...r, at: r.at + h * 60 })),
  );
}

/** Per minute of the hour, its hours as arithmetic runs (every 7 minutes: 9 runs an hour apart). */
function byMinute(times: number[]): Run[] {
  const minutes = sorted(times.map((t) => t % 60));
  return minutes.flatMap((m) =>
    arithmeticRuns(times.filter((t) => t % 60 === m).map((t) => Math.floor(t / 60))).map((r) => ({
      at: r.at * 60 + m,
      every: r.every * 60,
      count: r.count,
    })),
  );
}

/**
 * When every hour with runs has the same regular grid of minutes through the whole hour
 * (every 15 minutes from 9 to 17), one run per block of consecutive hours; otherwise null.
 */
function blocks(times: number[]): Run[] | null {
  const hours = sorted(times.map((t) => Math.floor(t / 60)));
  const minutes = sorted(times.filter((t) => Math.floor(t / 60) === hours[0]).map((t) => t % 60));
  const step = minutes.length === 1 ? 60 : minutes[1]! - minutes[0]!;
  if (60 % step !== 0 || minutes.length !== 60 / step) return null;
  if (minutes.some((m, i) => m !== minutes[0]! + i * step)) return null;
  if (times.length !== hours.length * minutes.length || times.some((t) => !minutes.includes(t % 60))) return null;
  const out: Run[] = [];
  let i = 0;
  while (i < hours.length) {
    let j = i;
    while (j + 1 < hours.length && hours[j + 1] === hours[j]! + 1) j++;
    out.push({ at: hours[i]! * 60 + minutes[0]!, every: step, count: ((j - i + 1) * 60) / step });
    i = j + 1;
  }
  // One start needs no repetition.
  return out.map((r) => (r.count === 1 ? { ...r, every: 0 } : r));
}

/** Sorted values as runs with a constant step; runs of two are two single starts. */
function arithmeticRuns(values: number[]): Run[] {
  const out: Run[] = [];
  let i = 0;
  while (i < values.length) {
    if (i + 2 < values.length && values[i + 1]! - values[i]! === values[i + 2]! - values[i + 1]!) {
      const step = values[i + 1]! - values[i]!;
      let j = i + 2;
      while (j + 1 < values.length && values[j + 1]! - values[j]! === step) j++;
      out.push({ at: values[i]!, every: step, count: j - i + 1 });
      i = j + 1;
    } else {
      out.push({ at: values[i]!, every: 0, count: 1 });
      i++;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Checking triggers against cron around clock changes

/**
 * One 60-hour window per distinct clock change of either zone: transitions with the same
 * offsets, the same time of day and the same matching days behave the same, so 30 years of
 * New York's DST are two windows for a daily job.
 */
function clockChangeWindows(c: Cron, jobTz: string, hostTz: string, candidates: Trigger[][]): Array<[number, number]> {
  const dayRules = new Map<string, TriggerDays>();
  for (const t of candidates.flat()) if (t.kind === "calendar") dayRules.set(JSON.stringify(t.days), t.days);
  const rules = [...dayRules.values()];
  const zones = jobTz === hostTz ? [hostTz] : [hostTz, jobTz];
  const changes = new Set<number>();
  for (const z of zones) for (const t of zoneProfile(z).transitions) changes.add(t.at);
  const groups = new Map<string, [number, number]>();
  for (const at of [...changes].sort((a, b) => a - b)) {
    const from = at - 30 * HOUR;
    const to = at + 30 * HOUR;
    const key: Array<string | number> = [at % DAY];
    for (const z of [hostTz, jobTz]) {
      key.push(offsetAt(from, z));
      for (const t of zoneProfile(z).transitions) if (t.at > from && t.at < to) key.push(`${t.at - at}:${t.after}`);
    }
    const hostDay = dayOf(wallOf(at, hostTz));
    const jobDay = dayOf(wallOf(at, jobTz));
    for (let k = -2; k <= 2; k++) {
      key.push(rules.map((r) => (daysMatch(r, hostDay + k * DAY) ? 1 : 0)).join(""));
      key.push(cronDayMatches(c, jobDay + k * DAY) ? 1 : 0);
    }
    const k = key.join("|");
    if (!groups.has(k)) groups.set(k, [from, to]);
  }
  return [...groups.values()];
}

function compare(triggers: Trigger[], s: Schedule, jobTz: string, hostTz: string, windows: Array<[number, number]>) {
  const missed: number[] = [];
  let extra = 0;
  for (const [from, to] of windows) {
    const fired = new Set(fireTimes(triggers, from, to, hostTz));
    const due = runsBetween(s, jobTz, from, to);
    for (const t of due) if (!fired.has(t)) missed.push(t);
    extra += fired.size - (due.length - missed.length);
  }
  return { missed, extra };
}

/** The schedule's run times in [from, to). */
function runsBetween(s: Schedule, tz: string, from: number, to: number, anchor?: number): number[] {
  const out: number[] = [];
  let after = from - 1;
  // Small batches first: a monthly job's 512 next runs reach decades past the window.
  for (let n = 8; ; n = Math.min(n * 4, 2048)) {
    const batch = nextRuns(s, tz, after, n, anchor);
    for (const t of batch) {
      if (t >= to) return out;
      out.push(t);
    }
    if (batch.length === 0) return out;
    after = batch[batch.length - 1]!;
  }
}

/**
 * Starts for run times the triggers miss: at the run's host wall time, on the days of a
 * trigger that fires that day (or daily). A run in the second pass of a repeated hour needs
 * a repetition, because a calendar start only takes the first pass.
 */
function patchTriggers(missed: number[], triggers: Trigger[], hostTz: string): Trigger[] {
  const rules = triggers.flatMap((t) => (t.kind === "calendar" ? [t.days] : []));
  const firsts = new Map<string, { days: TriggerDays; times: Set<number> }>();
  const out: Trigger[] = [];
  const seen = new Set(triggers.map((t) => JSON.stringify(t)));
  const add = (t: Trigger) => {
    const key = JSON.stringify(t);
    if (!seen.has(key)) out.push(t);
    seen.add(key);
  };
  for (const r of missed) {
    const wall = wallOf(r, hostTz);
    const day = dayOf(wall);
    const days = rules.find((d) => daysMatch(d, day)) ?? { kind: "daily" };
    const at = (wall - day) / MIN;
    const first = startInstant(wall, hostTz);
    if (first === r) {
      const key = JSON.stringify(days);
      if (!firsts.has(key)) firsts.set(key, { days, times: new Set() });
      firsts.get(key)!.times.add(at);
    } else {
      add({ kind: "calendar", days, at, repeat: { everyMin: (r - first) / MIN, count: 2 } });
    }
  }
  for (const { days, times } of firsts.values()) for (const t of toTriggers(days, arithmeticRuns(sorted([...times])))) add(t);
  return out;
}

/** Without single starts that a repeating trigger on the same days, from the same minute, already makes. */
function withoutCovered(triggers: Trigger[]): Trigger[] {
  const repeating = new Set(triggers.flatMap((t) => (t.kind === "calendar" && t.repeat ? [`${JSON.stringify(t.days)} ${t.at}`] : [])));
  return triggers.filter((t) => t.kind !== "calendar" || t.repeat || !repeating.has(`${JSON.stringify(t.days)} ${t.at}`));
}

// ---------------------------------------------------------------------------------------
// Task XML

export interface TaskEntry {
  jobId: string;
  /** "namespace/name"; the task is \Crontopus\namespace.name. */
  ref: string;
  schedule: string;
  timezone: string;
  /** The action's argv: the executable, then its arguments. */
  command: string[];
  paused: boolean;
  description?: string;
  /** Where @every schedules count from (ms); without it they fire every minute and exec gates. */
  anchor?: number;
}

/**
 * Who the task runs as. "system" (the default) is LocalSystem: the agent runs as a service
 * under that account, tasks run whether or not anyone is logged on and no password is
 * stored, like jobs in root's crontab. A user account runs with S4U (logged on or not, no
 * stored password, but no network credentials) or InteractiveToken (only while that user
 * is logged on).
 */
export type RunAs = "system" | { user: string; logonType: "S4U" | "InteractiveToken" };

export interface TaskHost {
  timezone: string;
  runAs?: RunAs;
}

export const TASK_NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task";
const MARKER = "crontopus:job";
const HASH_SLOT = "{{hash}}";

/** "Acme\\Jobs" -> "\\Acme\\Jobs\\". */
function folderPath(folder: string): string {
  return `\\${folder.replace(/^\\+|\\+$/g, "")}\\`;
}

/** The task's name inside the folder: "ops/db-backup" -> "ops.db-backup" (names cannot hold "." so this is one-to-one). */
export function taskName(ref: string): string {
  const name = ref.replace(/\//g, ".").replace(/[^A-Za-z0-9._-]/g, "_");
  if (name === "" || /^\.+$/.test(name)) throw new Invalid("ref", `"${ref}" gives no usable task name`);
  return name.slice(0, 200);
}

/** A complete Task Scheduler 1.2 task definition, with a `crontopus:job <jobId> <hash>` marker in its description. */
export function taskXml(entry: TaskEntry, host: TaskHost, folder = "\\Crontopus\\"): string {
  // The marker is read back from whatever schtasks prints, so its id stays plain ASCII.
  if (!/^[A-Za-z0-9-]{1,64}$/.test(entry.jobId)) throw new Invalid("jobId", `"${entry.jobId}" is not a job id`);
  const [exe, ...args] = entry.command;
  if (exe === undefined || exe === "") throw new Invalid("command", "is empty: the task needs an executable");
  // Task Scheduler expands %NAME% in Command and offers no escape; quotes cannot occur in a Windows path.
  if (/["%]/.test(exe)) throw new Invalid("command[0]", `the executable path cannot contain " or %: ${exe}`);
  for (const [i, a] of entry.command.entries()) checkXmlChars(`command[${i}]`, a);
  checkXmlChars("description", entry.description ?? "");

  const { triggers, exact } = cronToTriggers(entry.schedule, entry.timezone, host.timezone, entry.anchor);
  const s = parseSchedule("schedule", entry.schedule, entry.timezone);
  const when = describeSchedule(s, entry.timezone);
  const how = exact
    ? "Task Scheduler starts it at exactly these times."
    : "Task Scheduler cannot express this schedule exactly here: it starts crontopus at more times, and crontopus runs the job only when it is due.";
  const description = [entry.description, `Crontopus job ${entry.ref}: ${when}. ${how}`, `${MARKER} ${entry.jobId} ${HASH_SLOT}`]
    .filter((line) => line !== undefined && line !== "")
    .join("\n");

  const lines = [
    `<?xml version="1.0" encoding="UTF-16"?>`,
    `<Task version="1.2" xmlns="${TASK_NAMESPACE}">`,
    `  <RegistrationInfo>`,
    `    <Author>Crontopus</Author>`,
    `    <Description>${xmlText(description)}</Description>`,
    `    <URI>${xmlText(`${folderPath(folder)}${taskName(entry.ref)}`)}</URI>`,
    `  </RegistrationInfo>`,
    `  <Triggers>`,
    ...triggers.flatMap(triggerXml),
    `  </Triggers>`,
    ...principalXml(host.runAs ?? "system"),
    `  <Settings>`,
    // A second start while a run is still going is dropped, as `flock -n` in a crontab
    // would: overlapping copies of a backup rarely help, and a dropped run shows up on the
    // server as a missed check-in. It also makes the simultaneous starts of overlapping
    // triggers (day-of-month OR day-of-week, supersets) one start.
    `    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>`,
    `    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>`,
    `    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>`,
    `    <AllowHardTerminate>true</AllowHardTerminate>`,
    // Cron does not replay runs missed while the machine was off; neither do we.
    `    <StartWhenAvailable>false</StartWhenAvailable>`,
    `    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>`,
    `    <AllowStartOnDemand>true</AllowStartOnDemand>`,
    `    <Enabled>${entry.paused ? "false" : "true"}</Enabled>`,
    `    <Hidden>false</Hidden>`,
    `    <RunOnlyIfIdle>false</RunOnlyIfIdle>`,
    `    <WakeToRun>false</WakeToRun>`,
    // crontopus exec enforces the job's timeout and reports it.
    `    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>`,
    // Normal priority, as cron jobs get; Task Scheduler's default (7) also lowers I/O priority.
    `    <Priority>5</Priority>`,
    `  </Settings>`,
    `  <Actions Context="Author">`,
    `    <Exec>`,
    `      <Command>${xmlText(/\s/.test(exe) ? `"${exe}"` : exe)}</Command>`,
    ...(args.length > 0 ? [`      <Arguments>${xmlText(args.map(quoteWindowsArg).join(" "))}</Arguments>`] : []),
    `    </Exec>`,
    `  </Actions>`,
    `</Task>`,
    ``,
  ];
  const draft = lines.join("\n");
  return draft.replace(HASH_SLOT, createHash("sha256").update(draft).digest("hex").slice(0, 16));
}

/** The job id and hash of a `crontopus:job` marker in task XML (as written, or as schtasks prints it). */
export function readMarker(xml: string): { jobId: string; hash: string } | null {
  const m = new RegExp(`${MARKER} (\\S+) ([0-9a-f]{16})`).exec(xml);
  return m ? { jobId: xmlUnescape(m[1]!), hash: m[2]! } : null;
}

function triggerXml(t: Trigger): string[] {
  if (t.kind === "time") {
    const start = "utc" in t.start ? `${new Date(t.start.utc).toISOString().slice(0, 19)}Z` : localBoundary(t.start.wall);
    return [
      `    <TimeTrigger>`,
      `      <StartBoundary>${start}</StartBoundary>`,
      `      <Repetition>`,
      `        <Interval>${duration(t.everyMin)}</Interval>`,
      `        <StopAtDurationEnd>false</StopAtDurationEnd>`,
      `      </Repetition>`,
      `    </TimeTrigger>`,
    ];
  }
  const repetition = t.repeat
    ? [
        `      <Repetition>`,
        `        <Interval>${duration(t.repeat.everyMin)}</Interval>`,
        `        <Duration>${duration((t.repeat.count - 1) * t.repeat.everyMin)}</Duration>`,
        `        <StopAtDurationEnd>false</StopAtDurationEnd>`,
        `      </Repetition>`,
      ]
    : [];
  return [
    `    <CalendarTrigger>`,
    `      <StartBoundary>${localBoundary(t.at)}</StartBoundary>`,
    ...repetition,
    ...scheduleXml(t.days),
    `    </CalendarTrigger>`,
  ];
}

const DAY_ELEMENTS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTH_ELEMENTS = ["", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

function scheduleXml(days: TriggerDays): string[] {
  const list = (tag: string, items: string[]) => [`        <${tag}>`, ...items.map((i) => `          ${i}`), `        </${tag}>`];
  const dows = (d: number[]) => list("DaysOfWeek", d.map((x) => `<${DAY_ELEMENTS[x]} />`));
  const months = (m: number[]) => list("Months", m.map((x) => `<${MONTH_ELEMENTS[x]} />`));
  switch (days.kind) {
    case "daily":
      return [`      <ScheduleByDay>`, `        <DaysInterval>1</DaysInterval>`, `      </ScheduleByDay>`];
    case "weekly":
      return [`      <ScheduleByWeek>`, `        <WeeksInterval>1</WeeksInterval>`, ...dows(days.daysOfWeek), `      </ScheduleByWeek>`];
    case "monthly":
      return [
        `      <ScheduleByMonth>`,
        ...list("DaysOfMonth", days.daysOfMonth.map((d) => `<Day>${d}</Day>`)),
        ...months(days.months),
        `      </ScheduleByMonth>`,
      ];
    case "monthlyDow":
      // Weeks 1-4 and Last together are every occurrence of the weekday (a fifth is always the last).
      return [
        `      <ScheduleByMonthDayOfWeek>`,
        ...list("Weeks", ["1", "2", "3", "4", "Last"].map((w) => `<Week>${w}</Week>`)),
        ...dows(days.daysOfWeek),
        ...months(days.months),
        `      </ScheduleByMonthDayOfWeek>`,
      ];
  }
}

/** The task's Principals element: LocalSystem, or a user with the given logon type. */
export function principalXml(runAs: RunAs): string[] {
  if (runAs === "system") {
    return [
      `  <Principals>`,
      `    <Principal id="Author">`,
      `      <UserId>S-1-5-18</UserId>`,
      `      <RunLevel>HighestAvailable</RunLevel>`,
      `    </Principal>`,
      `  </Principals>`,
    ];
  }
  checkXmlChars("runAs.user", runAs.user);
  return [
    `  <Principals>`,
    `    <Principal id="Author">`,
    `      <UserId>${xmlText(runAs.user)}</UserId>`,
    `      <LogonType>${runAs.logonType}</LogonType>`,
    `      <RunLevel>LeastPrivilege</RunLevel>`,
    `    </Principal>`,
    `  </Principals>`,
  ];
}

/** A host-local StartBoundary on BASE_DATE: no offset, so the trigger follows the host's clock. */
function localBoundary(minuteOfDay: number): string {
  return new Date(BASE_DATE + minuteOfDay * MIN).toISOString().slice(0, 19);
}

/** Minutes as an XML duration: 15 -> PT15M, 525 -> PT8H45M, 2880 -> P2D. */
function duration(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  const time = `${h ? `${h}H` : ""}${m ? `${m}M` : ""}`;
  return `P${d ? `${d}D` : ""}${time ? `T${time}` : ""}`;
}

function xmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r/g, "&#13;");
}

function xmlUnescape(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#13;/g, "\r").replace(/&amp;/g, "&");
}

/** XML 1.0 cannot carry most control characters, lone surrogates or U+FFFE/U+FFFF, even escaped. */
function checkXmlChars(field: string, s: string): void {
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u.exec(
    s,
  );
  if (bad) throw new Invalid(field, `contains U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}, which a task definition cannot hold`);
}

/**
 * One argument for a Windows command line, so that CommandLineToArgvW (and the C runtime)
 * read it back unchanged: quoted when it holds whitespace, a quote or "%", with
 * backslashes doubled only before a quote.
 *
 * Task Scheduler expands %NAME% in Arguments when NAME is set, and has no escape. So every
 * "%" followed by an ordinary character is written as `%"c"`: the quotes close and reopen
 * quoting around c, which the argument parser drops, and `%"c…%` is no variable name.
 */
export function quoteWindowsArg(arg: string): string {
  if (arg !== "" && !/[\s"%]/.test(arg)) return arg;
  const chars = [...arg];
  let out = '"';
  let backslashes = 0;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === "\\") {
      backslashes++;
      continue;
    }
    if (c === '"') {
      out += "\\".repeat(backslashes * 2 + 1) + '"';
    } else if (c === "%" && i + 1 < chars.length && !/[\s"\\]/.test(chars[i + 1]!)) {
      out += `${"\\".repeat(backslashes)}%"${chars[i + 1]}"`;
      i++;
    } else {
      out += "\\".repeat(backslashes) + c;
    }
    backslashes = 0;
  }
  return `${out}${"\\".repeat(backslashes * 2)}"`;
}

// ---------------------------------------------------------------------------------------
// The seam: running schtasks

export interface CommandRunner {
  run(argv: string[], opts: { input?: Uint8Array; timeoutMs: number }): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** A command that ran past its time limit; it has been killed. */
export class CommandTimeout extends Error {
  constructor(
    readonly argv: string[],
    readonly timeoutMs: number,
  ) {
    super(`${argv.join(" ")} did not finish within ${timeoutMs}ms and was killed`);
    this.name = "CommandTimeout";
  }
}

/**
 * Runs argv to completion with a hard time limit: on timeout the process (and, on POSIX, its
 * process group: it runs detached) gets SIGKILL, we stop waiting for its output at once and
 * reject with CommandTimeout. Wine's schtasks spins for ever on a truncated XML file, and an
 * editor started by `crontab -e` would outlive its crontab. The one place the agent spawns.
 */
export async function spawnBounded(
  argv: string[],
  opts: { input?: Uint8Array; timeoutMs: number; env?: Record<string, string> },
): Promise<{ code: number; stdout: Uint8Array; stderr: Uint8Array }> {
  const posix = process.platform !== "win32";
  const proc = Bun.spawn(argv, {
    stdin: opts.input ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: posix,
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        if (posix) process.kill(-proc.pid, "SIGKILL");
        else proc.kill("SIGKILL");
      } catch {
        proc.kill("SIGKILL");
      }
      reject(new CommandTimeout(argv, opts.timeoutMs));
    }, opts.timeoutMs);
  });
  const finished = Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).bytes(), proc.exited]);
  try {
    const [stdout, stderr, code] = await Promise.race([finished, expired]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs commands with spawnBounded and decodes their output. */
export const systemRunner: CommandRunner = {
  async run(argv, { input, timeoutMs }) {
    const { code, stdout, stderr } = await spawnBounded(argv, { input, timeoutMs });
    return { code, stdout: decodeOutput(stdout), stderr: decodeOutput(stderr) };
  },
};

/**
 * Command output as text. schtasks writes its console code page to a pipe on most systems
 * but UTF-16 on some; the parts we parse (task names, markers) are ASCII either way.
 */
export function decodeOutput(bytes: Uint8Array): string {
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes.length >= 4 && bytes[1] === 0 && bytes[3] === 0 && bytes[0] !== 0);
  return new TextDecoder(utf16 ? "utf-16le" : "utf-8").decode(bytes);
}

/** XML as schtasks wants it from a file: UTF-16LE with a byte order mark (wine refuses UTF-8 with one). */
export function utf16le(text: string): Uint8Array {
  const out = new Uint8Array(2 + text.length * 2);
  out[0] = 0xff;
  out[1] = 0xfe;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    out[2 + i * 2] = unit & 0xff;
    out[3 + i * 2] = unit >> 8;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The backend

export type DesiredTask = TaskEntry;

export interface InstalledTask {
  /** Full task path, e.g. \Crontopus\ops.db-backup. */
  name: string;
  /** From the crontopus:job marker; null for a task in the folder that Crontopus did not write. */
  jobId: string | null;
  hash: string | null;
}

export interface ApplyResult {
  jobId: string;
  state: "applied" | "drifted" | "error";
  message?: string;
}

/** schtasks failed in a way that leaves nothing to reconcile against. */
export class SchtasksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchtasksError";
  }
}

export interface BackendOptions {
  /** Task folder, default \Crontopus\ (the task XML's URI names the same folder). */
  folder?: string;
  /** Where XML files for /Create are written (and removed). */
  tmpDir: string;
  host: TaskHost;
  /** Per schtasks call; default 30 s. */
  timeoutMs?: number;
  /** The schtasks executable; default "schtasks". */
  schtasks?: string;
}

export class TaskSchedulerBackend {
  private readonly folder: string;
  private readonly timeoutMs: number;
  private readonly exe: string;

  constructor(
    private readonly runner: CommandRunner,
    private readonly opts: BackendOptions,
  ) {
    this.folder = folderPath(opts.folder ?? "\\Crontopus\\");
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.exe = opts.schtasks ?? "schtasks";
  }

  /** The tasks directly in the folder, read from `schtasks /Query /XML ONE`. */
  async list(): Promise<InstalledTask[]> {
    const argv = [this.exe, "/Query", "/XML", "ONE"];
    let r: Awaited<ReturnType<CommandRunner["run"]>>;
    try {
      r = await this.runner.run(argv, { timeoutMs: this.timeoutMs });
    } catch (e) {
      throw new SchtasksError(`schtasks /Query: ${errorText(e)}`);
    }
    if (r.code !== 0) throw new SchtasksError(`schtasks /Query failed (exit ${r.code}): ${oneLine(r.stderr || r.stdout)}`);
    // Each task is preceded by a comment naming it: <!-- \Crontopus\ops.db-backup -->.
    const out: InstalledTask[] = [];
    const prefix = this.folder.toLowerCase();
    for (const m of r.stdout.matchAll(/<!--\s*(\\[^\r\n]*?)\s*-->\s*(<Task[\s>][\s\S]*?<\/Task>)/g)) {
      const name = m[1]!;
      const rest = name.slice(this.folder.length);
      if (!name.toLowerCase().startsWith(prefix) || rest === "" || rest.includes("\\")) continue;
      const marker = readMarker(m[2]!);
      out.push({ name, jobId: marker?.jobId ?? null, hash: marker?.hash ?? null });
    }
    return out;
  }

  /**
   * Make the folder hold exactly the desired tasks: create or replace those whose marker
   * differs, delete Crontopus tasks no longer desired, then read the folder back. A job whose
   * task could not be written keeps its old task (it is not deleted).
   */
  async apply(desired: DesiredTask[]): Promise<ApplyResult[]> {
    const installed = await this.list();
    const byName = new Map(installed.map((t) => [t.name.toLowerCase(), t]));
    const results = new Map<string, ApplyResult>();
    const written: Array<{ jobId: string; name: string; hash: string; replaced: InstalledTask | undefined }> = [];
    const keep = new Set<string>(); // task names (lower case) that stay
    const failedJobs = new Set<string>();
    const names = new Map<string, number>();
    for (const d of desired) names.set(safeName(d).toLowerCase(), (names.get(safeName(d).toLowerCase()) ?? 0) + 1);

    for (const d of desired) {
      const fail = (message: string) => {
        failedJobs.add(d.jobId);
        results.set(d.jobId, { jobId: d.jobId, state: "error", message });
      };
      let name: string;
      let xml: string;
      try {
        name = this.folder + taskName(d.ref);
        xml = taskXml(d, this.opts.host, this.folder);
      } catch (e) {
        fail(errorText(e));
        continue;
      }
      keep.add(name.toLowerCase());
      if (names.get(safeName(d).toLowerCase())! > 1) {
        fail(`several jobs map to the task name ${name}`);
        continue;
      }
      const hash = readMarker(xml)!.hash;
      const current = byName.get(name.toLowerCase());
      if (current?.jobId === d.jobId && current.hash === hash) {
        results.set(d.jobId, { jobId: d.jobId, state: "applied", message: "unchanged" });
        continue;
      }
      const problem = await this.create(name, xml);
      if (problem) fail(problem);
      else written.push({ jobId: d.jobId, name, hash, replaced: current });
    }

    const deleted: Array<{ jobId: string; name: string }> = [];
    for (const t of installed) {
      // Leave tasks Crontopus did not write, tasks still wanted, and a failed job's old task.
      if (t.jobId === null || keep.has(t.name.toLowerCase()) || failedJobs.has(t.jobId)) continue;
      const problem = await this.delete(t.name);
      if (problem) results.set(`${t.jobId} ${t.name}`, { jobId: t.jobId, state: "error", message: problem });
      else deleted.push({ jobId: t.jobId, name: t.name });
    }

    if (written.length > 0 || deleted.length > 0) {
      let after: Map<string, InstalledTask> | null = null;
      let readError = "";
      try {
        after = new Map((await this.list()).map((t) => [t.name.toLowerCase(), t]));
      } catch (e) {
        readError = errorText(e);
      }
      for (const w of written) {
        const did = w.replaced ? `replaced ${w.name} (it had ${describeMarker(w.replaced)})` : `created ${w.name}`;
        const found = after?.get(w.name.toLowerCase());
        if (!after) {
          results.set(w.jobId, { jobId: w.jobId, state: "applied", message: `${did}; could not read it back: ${readError}` });
        } else if (!found) {
          results.set(w.jobId, { jobId: w.jobId, state: "drifted", message: `${did}, but Task Scheduler lists no such task afterwards` });
        } else if (found.jobId !== w.jobId || found.hash !== w.hash) {
          results.set(w.jobId, { jobId: w.jobId, state: "drifted", message: `${did}, but Task Scheduler holds ${describeMarker(found)}, expected hash ${w.hash}` });
        } else {
          results.set(w.jobId, { jobId: w.jobId, state: "applied", message: did });
        }
      }
      for (const d of deleted) {
        const still = after?.has(d.name.toLowerCase());
        results.set(`${d.jobId} ${d.name}`, {
          jobId: d.jobId,
          state: still ? "drifted" : "applied",
          message: still ? `deleted ${d.name}, but Task Scheduler still lists it` : `deleted ${d.name}`,
        });
      }
    }

    const order = [...desired.map((d) => d.jobId), ...results.keys()];
    return [...new Set(order)].flatMap((k) => (results.has(k) ? [results.get(k)!] : []));
  }

  /** Delete every task Crontopus wrote in the folder. */
  async uninstall(): Promise<void> {
    const problems: string[] = [];
    for (const t of await this.list()) {
      if (t.jobId === null) continue;
      const problem = await this.delete(t.name);
      if (problem) problems.push(problem);
    }
    if (problems.length > 0) throw new SchtasksError(problems.join("; "));
  }

  /** schtasks /Create /XML from a UTF-16 file; returns a problem, or null. */
  private async create(name: string, xml: string): Promise<string | null> {
    const file = join(this.opts.tmpDir, `crontopus-${randomUUID()}.xml`);
    const argv = [this.exe, "/Create", "/TN", name, "/XML", file, "/F"];
    try {
      await writeFile(file, utf16le(xml));
      const r = await this.runner.run(argv, { timeoutMs: this.timeoutMs });
      if (r.code !== 0) return `schtasks /Create ${name} failed (exit ${r.code}): ${oneLine(r.stderr || r.stdout)}`;
      return null;
    } catch (e) {
      return `schtasks /Create ${name}: ${errorText(e)}`;
    } finally {
      await rm(file, { force: true });
    }
  }

  private async delete(name: string): Promise<string | null> {
    const argv = [this.exe, "/Delete", "/TN", name, "/F"];
    try {
      const r = await this.runner.run(argv, { timeoutMs: this.timeoutMs });
      if (r.code !== 0) return `schtasks /Delete ${name} failed (exit ${r.code}): ${oneLine(r.stderr || r.stdout)}`;
      return null;
    } catch (e) {
      return `schtasks /Delete ${name}: ${errorText(e)}`;
    }
  }
}

function safeName(d: DesiredTask): string {
  try {
    return taskName(d.ref);
  } catch {
    return `\u0000${d.jobId}`;
  }
}

function describeMarker(t: InstalledTask): string {
  return t.jobId === null ? "no crontopus marker" : `marker ${t.jobId} ${t.hash}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function oneLine(s: string): string {
  return s.trim().replace(/\s*\r?\n\s*/g, " ") || "(no output)";
}

// ---------------------------------------------------------------------------------------

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function sorted(values: Iterable<number>): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}
