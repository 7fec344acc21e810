// Job schedules as Task Scheduler triggers: the compiler (cronToTriggers), the model of when
// Task Scheduler starts a task that it is checked against (fireTimes), and the check itself
// around every clock change either zone makes. Pure: no I/O, no clock.
//
// The task never runs the job's command directly: it runs `crontopus.exe exec --job <id>
// -- <command…>`, which reports the run. When the triggers cannot say exactly what cron
// says (cronToTriggers returns exact: false), they fire at a superset of the true times
// and exec gates each start with isDue (agent/hostschedule.ts).
import { cronFields, nextRuns, parseSchedule, type CronFields, type Schedule } from "../src/jobs/schedule";
import { ZoneWindow } from "../src/jobs/zone";

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
export const BASE_DATE = Date.UTC(2020, 0, 1);

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
        const first = Math.max(0, Math.floor((SCAN.wallOf(from, hostTz) - 3 * HOUR - startWall) / every));
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
    const firstDay = Math.max(BASE_DATE, dayOf(SCAN.wallOf(from - span, hostTz)) - DAY);
    const lastDay = dayOf(SCAN.wallOf(to, hostTz)) + DAY;
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
  const before = SCAN.offsetAt(wall - DAY, tz);
  const after = SCAN.offsetAt(wall + DAY, tz);
  const early = wall - before;
  const late = wall - after;
  const valid = [early, late].filter((t) => SCAN.wallOf(t, tz) === wall);
  if (valid.length > 0) return Math.min(...valid);
  // In a gap: read with the offset before the jump, which lands after it.
  return early;
}

function dayOf(wall: number): number {
  return Math.floor(wall / DAY) * DAY;
}

// ---------------------------------------------------------------------------------------
// Time zones and cron days

// The years whose clock changes we check triggers against. tzdata projects today's rules
// forward, so this covers the agent's lifetime; move it along in a decade or two. Offsets are
// read from each zone's timeline in these years (the checker asks for millions of them).
const SCAN = new ZoneWindow(Date.UTC(2020, 0, 1), Date.UTC(2050, 0, 1));

/** Whether the job's day fields select the date `day` (ms of its midnight, as UTC), as cron combines them. */
function cronDayMatches(c: CronFields, day: number): boolean {
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
  const cron = cronFields(s.expr);
  const same = SCAN.sameClock(timezone, hostTimezone);
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

function sameZonePlan(c: CronFields): { comps: Component[]; exact: boolean } {
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
function dayComponents(c: CronFields): { days: TriggerDays[]; exact: boolean } {
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
function crossZonePlan(c: CronFields, jobTz: string, hostTz: string): { comps: Component[]; exact: boolean } {
  const { days, exact } = dayComponents(c);
  const perDifference = SCAN.offsetDifferences(jobTz, hostTz).map((d) => shiftedComponents(c, days, d / MIN));
  const comps = mergeComponents(perDifference.flatMap((p) => p.comps));
  const same = perDifference.every((p) => JSON.stringify(p.comps) === JSON.stringify(perDifference[0]!.comps));
  return { comps, exact: exact && same && perDifference.every((p) => p.exact) };
}

/** The host days and times of the job's runs when the host clock is `diff` minutes ahead of the job's. */
function shiftedComponents(c: CronFields, days: TriggerDays[], diff: number): { comps: Component[]; exact: boolean } {
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
function clockChangeWindows(c: CronFields, jobTz: string, hostTz: string, candidates: Trigger[][]): Array<[number, number]> {
  const dayRules = new Map<string, TriggerDays>();
  for (const t of candidates.flat()) if (t.kind === "calendar") dayRules.set(JSON.stringify(t.days), t.days);
  const rules = [...dayRules.values()];
  const zones = jobTz === hostTz ? [hostTz] : [hostTz, jobTz];
  const changes = new Set<number>();
  for (const z of zones) for (const t of SCAN.timeline(z).changes) changes.add(t.at);
  const groups = new Map<string, [number, number]>();
  for (const at of [...changes].sort((a, b) => a - b)) {
    const from = at - 30 * HOUR;
    const to = at + 30 * HOUR;
    const key: Array<string | number> = [at % DAY];
    for (const z of [hostTz, jobTz]) {
      key.push(SCAN.offsetAt(from, z));
      for (const t of SCAN.timeline(z).changes) if (t.at > from && t.at < to) key.push(`${t.at - at}:${t.after}`);
    }
    const hostDay = dayOf(SCAN.wallOf(at, hostTz));
    const jobDay = dayOf(SCAN.wallOf(at, jobTz));
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
    const wall = SCAN.wallOf(r, hostTz);
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
