// Schedules: classic (Vixie) cron and @every, their next run times and their descriptions.
// Pure: no database, no clock (callers pass `after`).
//
// We evaluate cron expressions ourselves rather than with cron-parser, because the agent
// writes these expressions into real crontabs and the expected run times must be the
// ones Vixie cron (Debian's cron, cronie) actually produces. cron-parser differs in three
// ways that matter for monitoring:
//   1. Vixie combines day-of-month and day-of-week with AND whenever either field *starts
//      with* "*" (so "0 0 */2 * MON" means odd-numbered Mondays); cron-parser uses OR.
//   2. A fixed-time job scheduled inside a spring-forward gap runs right after the jump
//      (03:00), not at the same minute of the next hour (03:30).
//   3. Jobs with "*" in the minute or hour field run on the new clock: they are skipped in
//      a gap and run again in a repeated hour. Fixed-time jobs run once, at the first
//      occurrence of a repeated time.
// cron-parser stays useful as an independent oracle in the tests.
import { isoTime } from "../time";
import cronstrue from "cronstrue";
import { Invalid } from "../errors";
import { canonicalZone, offsetAt, offsetChange, wallOf } from "./zone";

export type Schedule = { kind: "cron"; expr: string } | { kind: "every"; seconds: number; expr: string };

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------
// Durations

const MAX_DURATION_S = 366 * 86_400;
const DURATION_FORMS = "a number of seconds (90) or a duration such as 30s, 5m, 1h30m, 2d or 1d12h";

/** Whole seconds from `90`, `"90"`, `"30s"`, `"5m"`, `"1h30m"`, `"2d"`, `"1d12h"` (0 to 366 days). */
export function parseDuration(field: string, input: string | number): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || !Number.isInteger(input)) {
      throw new Invalid(field, `expected whole seconds, got ${input}; use ${DURATION_FORMS}`);
    }
    return checkDurationRange(field, input, String(input));
  }
  if (typeof input !== "string") {
    throw new Invalid(field, `expected ${DURATION_FORMS}, got ${typeName(input)}`);
  }
  const text = input.trim().toLowerCase().replace(/\s+/g, "");
  if (text === "") throw new Invalid(field, `is empty; expected ${DURATION_FORMS}`);
  if (text.startsWith("-")) throw new Invalid(field, `must not be negative ("${input}"); use ${DURATION_FORMS}`);
  if (/^\d+$/.test(text)) return checkDurationRange(field, Number(text), input);
  if (/^\d+(\.\d+)?(ms|us|µs|ns)$/.test(text)) {
    throw new Invalid(field, `sub-second durations are not supported ("${input}"); use whole seconds, e.g. 1s`);
  }
  if (/\d[.,]\d/.test(text)) {
    throw new Invalid(field, `fractions are not supported ("${input}"); write 1h30m rather than 1.5h; use ${DURATION_FORMS}`);
  }
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m) throw new Invalid(field, `"${input}" is not a duration; use ${DURATION_FORMS} (units d, h, m, s in that order)`);
  const [d, h, min, s] = m.slice(1).map((v) => Number(v ?? 0));
  return checkDurationRange(field, d! * 86_400 + h! * 3_600 + min! * 60 + s!, input);
}

function checkDurationRange(field: string, seconds: number, input: string): number {
  if (seconds < 0) throw new Invalid(field, `must not be negative ("${input}"); use ${DURATION_FORMS}`);
  if (seconds > MAX_DURATION_S) throw new Invalid(field, `"${input}" is too long: the maximum is 366d`);
  return seconds;
}

/** Compact form of a number of seconds: 5400 -> "1h30m", 45 -> "45s", 172800 -> "2d", 0 -> "0s". */
export function formatDuration(seconds: number): string {
  let rest = Math.floor(Math.abs(seconds));
  if (rest === 0) return "0s";
  let out = seconds < 0 ? "-" : "";
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]] as const) {
    const q = Math.floor(rest / size);
    if (q > 0) out += `${q}${unit}`;
    rest -= q * size;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Time zones

/** An IANA zone name (case-insensitive; returned with canonical case, e.g. "utc" -> "UTC"). */
export function validateTimezone(field: string, tz: string): string {
  if (typeof tz !== "string" || tz.trim() === "") {
    throw new Invalid(field, "expected an IANA time zone name such as UTC, Europe/Berlin or America/New_York");
  }
  const name = tz.trim();
  // Intl also accepts offsets like "+05:00"; crontabs and CRON_TZ do not, and an offset
  // cannot follow daylight saving time.
  if (/^[+\-\d]/.test(name)) {
    throw new Invalid(field, `"${tz}" is a UTC offset, not a time zone; use an IANA name such as Europe/Berlin or America/New_York`);
  }
  try {
    return canonicalZone(name);
  } catch {
    throw new Invalid(field, `unknown time zone "${tz}"; use an IANA name such as UTC, Europe/Berlin or America/New_York`);
  }
}

/** ISO 8601 with the zone's offset at that instant, seconds precision: "2026-03-08T03:00:00-04:00". */
export function formatInZone(ms: number, tz: string): string {
  // A stored time beyond what a Date holds renders at the edge of the range, never throws.
  ms = Math.max(-8.639e15, Math.min(8.639e15, Number.isNaN(ms) ? 0 : ms));
  const wall = wallOf(ms, tz);
  const offsetMin = Math.round((wall - Math.floor(ms / 1000) * 1000) / MINUTE);
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  return `${new Date(wall).toISOString().slice(0, 19)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

// ---------------------------------------------------------------------------------------
// Parsing cron expressions (classic Vixie syntax only)

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: readonly string[]; // index = value
}

const MONTH_NAMES = ["", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] as const;
const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] as const;

const FIELDS: readonly FieldDef[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTH_NAMES },
  // 0 and 7 are both Sunday, as in Vixie cron.
  { name: "day-of-week", min: 0, max: 7, names: DAY_NAMES },
];

const FIELD_LIST = "minute hour day-of-month month day-of-week";
const ALLOWED_SYNTAX = "numbers, *, ranges (1-5), steps (*/15, 0-30/5), lists (1,15,30) and names (JAN-DEC, SUN-SAT)";

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** A cron expression compiled to sets, with Vixie's flags. */
interface CronSpec {
  fields: string[]; // the five fields as written (macros expanded)
  minutes: number[];
  hours: number[];
  dom: boolean[]; // 1..31
  months: boolean[]; // 1..12
  dow: boolean[]; // 0..6 (7 folded into 0)
  domAll: boolean;
  dowAll: boolean;
  /** Vixie: AND the day fields when either starts with "*", otherwise OR them. */
  daysAnd: boolean;
  /** Vixie: "*" opens the minute or hour field, so DST changes neither skip nor merge runs. */
  wild: boolean;
}

const COMPILED_CAP = 1000;
const compiled = new Map<string, CronSpec>();

function cached(expr: string): CronSpec | undefined {
  const spec = compiled.get(expr);
  if (spec) {
    // Keep recently used entries at the end so the oldest are evicted first.
    compiled.delete(expr);
    compiled.set(expr, spec);
  }
  return spec;
}

function remember(expr: string, spec: CronSpec): void {
  if (compiled.size >= COMPILED_CAP) compiled.delete(compiled.keys().next().value!);
  compiled.set(expr, spec);
}

/**
 * Parse a schedule: a classic 5-field cron expression, a macro (@daily …) or
 * `@every <duration>`. The returned `expr` is normalised (single spaces, lower-case macros,
 * `@every 5m`). The zone the schedule runs in does not change what is valid; it is taken so
 * callers state it where they check a schedule.
 */
export function parseSchedule(field: string, expr: string, _tz: string): Schedule {
  if (typeof expr !== "string") throw new Invalid(field, `expected a cron expression, got ${typeName(expr)}`);
  const tokens = expr.trim().split(/\s+/).filter((t) => t !== "");
  if (tokens.length === 0) {
    throw new Invalid(field, `is empty; expected 5 fields (${FIELD_LIST}), a macro such as @daily, or @every <duration>`);
  }
  if (tokens[0]!.startsWith("@")) return parseMacro(field, tokens);
  const normal = tokens.join(" ");
  if (cached(normal)) return { kind: "cron", expr: normal };
  if (tokens.length !== 5) throw new Invalid(field, fieldCountMessage(tokens));
  remember(normal, compile(field, tokens));
  return { kind: "cron", expr: normal };
}

function parseMacro(field: string, tokens: string[]): Schedule {
  const macro = tokens[0]!.toLowerCase();
  if (macro === "@every") {
    if (tokens.length === 1) throw new Invalid(field, "@every needs a duration, e.g. @every 5m or @every 1h30m");
    const seconds = parseDuration(field, tokens.slice(1).join(""));
    if (seconds < 1) throw new Invalid(field, "@every needs a duration of at least 1s");
    return { kind: "every", seconds, expr: `@every ${formatDuration(seconds)}` };
  }
  if (macro === "@reboot") {
    throw new Invalid(field, "@reboot has no schedule the server can monitor; use a time-based schedule such as @daily");
  }
  const five = MACROS[macro];
  if (!five) {
    throw new Invalid(
      field,
      `unknown macro ${tokens[0]}; use @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually or @every <duration>`,
    );
  }
  if (tokens.length > 1) {
    throw new Invalid(field, `unexpected "${tokens.slice(1).join(" ")}" after ${macro}; put the command in the command field`);
  }
  if (!cached(macro)) remember(macro, compile(field, five.split(" ")));
  return { kind: "cron", expr: macro };
}

function fieldCountMessage(tokens: string[]): string {
  const base = `expected 5 fields (${FIELD_LIST}), got ${tokens.length}`;
  if (tokens.length < 5) return base;
  // "0 5 * * * backup.sh" is a crontab line, not a schedule.
  const cronish = /^(?:[\d*,/\-?#LW]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT)+$/i;
  if (!tokens.slice(5).every((t) => cronish.test(t))) {
    return `${base}; the schedule holds only the timing fields: put the command in the command field`;
  }
  return tokens.length === 6
    ? `${base}; a seconds field is not supported (classic cron runs at most once a minute)`
    : `${base}; seconds and year fields are not supported`;
}

function compile(field: string, tokens: string[]): CronSpec {
  const sets = FIELDS.map((def, i) => parseField(field, def, tokens[i]!));
  const [minute, hour, dom, month, dow] = sets as [boolean[], boolean[], boolean[], boolean[], boolean[]];
  // Vixie: "make sundays equivalent".
  if (dow[7]) dow[0] = true;
  dow.length = 7;
  const domAll = range(1, 31).every((d) => dom[d]);
  const dowAll = range(0, 6).every((d) => dow[d]);
  const daysAnd = tokens[2]!.startsWith("*") || tokens[4]!.startsWith("*");
  const spec: CronSpec = {
    fields: tokens,
    minutes: range(0, 59).filter((m) => minute[m]),
    hours: range(0, 23).filter((h) => hour[h]),
    dom,
    months: month,
    dow,
    domAll,
    dowAll,
    daysAnd,
    wild: tokens[0]!.startsWith("*") || tokens[1]!.startsWith("*"),
  };
  // With the day fields ANDed, a day-of-month that no selected month has never comes
  // ("0 0 30 2 *"). With OR, the weekdays still fire.
  if (daysAnd && !range(1, 12).some((mo) => month[mo] && range(1, MAX_DAYS[mo]!).some((d) => dom[d]))) {
    const months = range(1, 12).filter((mo) => month[mo]).map((mo) => MONTH_NAMES[mo]).join(",");
    throw new Invalid(field, `day-of-month "${tokens[2]}" never occurs in ${months}, so the job would never run`);
  }
  return spec;
}

const MAX_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function parseField(field: string, def: FieldDef, raw: string): boolean[] {
  const set: boolean[] = new Array(def.max + 1).fill(false);
  const fail = (problem: string): never => {
    throw new Invalid(field, `${def.name} "${raw}": ${problem}`);
  };
  const items = raw.split(",");
  for (const item of items) {
    if (item === "") fail(`empty item in a list; allowed: ${ALLOWED_SYNTAX}`);
    checkExtensions(item, fail);
    const m = /^(?:(\*)|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:\/(\d+))?$/.exec(item);
    if (!m) fail(`"${item}" is not valid; allowed: ${ALLOWED_SYNTAX}`);
    const [, star, a, b, stepText] = m!;
    if (star && stepText === undefined && items.length > 1) fail("* cannot be combined with other values in a list");
    if (!star && b === undefined && stepText !== undefined) {
      fail(`a step needs a range or *: write ${a}-${def.max}/${stepText} or */${stepText}, not ${item}`);
    }
    let lo = def.min;
    let hi = def.max;
    if (!star) {
      lo = value(def, a!, fail);
      hi = b === undefined ? lo : value(def, b, fail);
      if (lo > hi) {
        let hint = `split it, e.g. ${lo}-${def.max},${def.min}-${hi}`;
        // 7 is also Sunday, so a week can wrap without a 0.
        if (def.name === "day-of-week") hint = hi === 0 ? `write ${lo}-7 (7 is also Sunday)` : `write ${lo}-7,${hi === 1 ? "1" : `1-${hi}`}`;
        fail(`range ${a}-${b} runs backwards; ${hint}`);
      }
    }
    let step = 1;
    if (stepText !== undefined) {
      step = Number(stepText);
      if (step < 1) fail("a step must be at least 1");
      if (step > def.max - def.min) fail(`step ${step} is larger than the field's range (${def.min}-${def.max})`);
    }
    for (let v = lo; v <= hi; v += step) set[v] = true;
  }
  return set;
}

/** Reject the extensions cron-parser and Quartz accept but classic cron does not. */
function checkExtensions(item: string, fail: (problem: string) => never): void {
  const notClassic = (what: string) => fail(`${what} is not classic cron syntax; allowed: ${ALLOWED_SYNTAX}`);
  if (item.includes("?")) notClassic(`"?" (Quartz's "no specific value")`);
  if (item.includes("#")) notClassic(`"#" (nth weekday of the month)`);
  if (/^H(\(|$)/i.test(item)) notClassic(`"H" (Jenkins' hashed value)`);
  if (/^L$|^\d*L$|^L-\d+$|^LW$/i.test(item)) notClassic(`"L" (last day)`);
  if (/^\d+W$/i.test(item)) notClassic(`"W" (nearest weekday)`);
}

function value(def: FieldDef, text: string, fail: (problem: string) => never): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < def.min || n > def.max) fail(`${n} is out of range (${def.min}-${def.max})`);
    return n;
  }
  if (!def.names) fail(`"${text}" is not a number; names are only allowed in the month and day-of-week fields`);
  const i = def.names!.indexOf(text.toUpperCase());
  if (i < 0 || text === "") {
    const list = def.names === MONTH_NAMES ? "JAN-DEC" : "SUN-SAT";
    fail(`"${text}" is not a ${def.name === "month" ? "month" : "day"} name; use the first three letters (${list})`);
  }
  return i;
}

function compiledFor(expr: string): CronSpec {
  const hit = cached(expr);
  if (hit) return hit;
  // Not seen by parseSchedule in this process (e.g. read back from the database).
  const s = parseSchedule("schedule", expr, "UTC");
  if (s.kind !== "cron") throw new Error(`not a cron schedule: ${expr}`);
  return cached(s.expr)!;
}

/** A cron schedule's values field by field, for code that compiles it to another form (the agent's crontab and Task Scheduler lines). */
export interface CronFields {
  /** The five fields as written, macros expanded. */
  fields: string[];
  minutes: number[];
  hours: number[];
  /** 1-31. */
  dom: number[];
  /** 1-12. */
  months: number[];
  /** 0-6, Sunday 0 (a 7 is folded into 0). */
  dow: number[];
  /** Vixie: a day must match both day fields when either starts with "*", otherwise either. */
  daysAnd: boolean;
}

/** The values of a cron expression or macro parseSchedule accepts (a fresh copy each call). */
export function cronFields(expr: string): CronFields {
  const c = compiledFor(expr);
  return {
    fields: [...c.fields],
    minutes: [...c.minutes],
    hours: [...c.hours],
    dom: range(1, 31).filter((d) => c.dom[d]),
    months: range(1, 12).filter((m) => c.months[m]),
    dow: range(0, 6).filter((d) => c.dow[d]),
    daysAnd: c.daysAnd,
  };
}

// ---------------------------------------------------------------------------------------
// Next runs

// Far enough for "Feb 29 on a Sunday"-style schedules; expressions that never fire are
// rejected by parseSchedule.
const MAX_SCAN_DAYS = 366 * 60;

/**
 * The next `n` run times (ms) strictly after `after`. For `@every`, runs fall on
 * `anchor + k * seconds` (anchor defaults to `after`).
 */
export function nextRuns(s: Schedule, tz: string, after: number, n: number, anchor?: number): number[] {
  if (n <= 0) return [];
  if (s.kind === "every") {
    const period = s.seconds * 1000;
    const base = anchor ?? after;
    const first = Math.floor((after - base) / period) + 1;
    return Array.from({ length: n }, (_, i) => base + (first + i) * period);
  }
  return cronRuns(compiledFor(s.expr), tz, after, n);
}

/** The first of nextRuns. */
export function nextRun(s: Schedule, tz: string, after: number, anchor?: number): number {
  const [t] = nextRuns(s, tz, after, 1, anchor);
  if (t === undefined) throw new Error(`schedule "${s.expr}" has no run after ${isoTime(after)}`);
  return t;
}

function dayMatches(c: CronSpec, month: number, day: number, weekday: number): boolean {
  if (!c.months[month]) return false;
  return c.daysAnd ? c.dom[day]! && c.dow[weekday]! : c.dom[day]! || c.dow[weekday]!;
}

function cronRuns(c: CronSpec, tz: string, after: number, n: number): number[] {
  const out: number[] = [];
  // Start a few hours back: in a repeated hour, a wall time before `after`'s may still
  // have an occurrence after it.
  const start = new Date(wallOf(after, tz) - 3 * HOUR);
  let y = start.getUTCFullYear();
  let mo = start.getUTCMonth() + 1;
  let d = start.getUTCDate();
  let wd = start.getUTCDay();
  for (let scanned = 0; scanned < MAX_SCAN_DAYS; scanned++) {
    if (dayMatches(c, mo, d, wd)) {
      const dayStart = Date.UTC(y, mo - 1, d);
      if (collectDay(c, tz, dayStart, after, n, out)) break;
    }
    // Advance one calendar day, or to the 1st of the next month when this one is not selected.
    const last = daysIn(y, mo);
    if (c.months[mo] && d < last) {
      d++;
      wd = (wd + 1) % 7;
    } else {
      wd = (wd + last - d + 1) % 7;
      d = 1;
      mo++;
      if (mo > 12) {
        mo = 1;
        y++;
      }
    }
  }
  return out.slice(0, n);
}

/** Adds the day's runs after `after` to `out`; true once `out` holds `n`. */
function collectDay(c: CronSpec, tz: string, dayStart: number, after: number, n: number, out: number[]): boolean {
  // Common case: no offset change anywhere near this day, so wall time maps to one
  // instant by a fixed offset and runs come out in order.
  const o1 = offsetAt(dayStart - 18 * HOUR, tz);
  const o2 = offsetAt(dayStart + 42 * HOUR, tz);
  if (o1 === o2) {
    for (const h of c.hours) {
      for (const m of c.minutes) {
        const t = dayStart + h * HOUR + m * MINUTE - o1;
        if (t <= after) continue;
        out.push(t);
        if (out.length >= n) return true;
      }
    }
    return false;
  }
  // An offset change (DST) at instant `change` touches this day. Wall time w happened
  // at w - o1 if that is before the change, and at w - o2 if that is after it: both in a
  // repeated hour, neither in a skipped one.
  const change = offsetChange(dayStart - 18 * HOUR, dayStart + 42 * HOUR, o1, tz);
  const found: number[] = [];
  for (const h of c.hours) {
    for (const m of c.minutes) {
      const wall = dayStart + h * HOUR + m * MINUTE;
      const early = wall - o1 < change ? wall - o1 : null;
      const late = wall - o2 >= change ? wall - o2 : null;
      if (c.wild) {
        // Wildcard jobs follow the clock: skipped in a gap, run again in a repeated hour.
        if (early !== null && early > after) found.push(early);
        if (late !== null && late > after) found.push(late);
      } else {
        // Fixed-time jobs run once: at the first occurrence, or right after a gap.
        const t = early ?? late ?? change;
        if (t > after && found[found.length - 1] !== t) found.push(t);
      }
    }
  }
  out.push(...found.sort((x, y) => x - y));
  return out.length >= n;
}

function daysIn(y: number, mo: number): number {
  return new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

// ---------------------------------------------------------------------------------------
// Descriptions

/** Plain English: "At 02:00", "Every 5 minutes", with the zone appended when it is not UTC. */
export function describeSchedule(s: Schedule, tz: string): string {
  if (s.kind === "every") return describeEvery(s.seconds);
  const c = compiledFor(s.expr);
  const [minute, hour, dom, month, dow] = c.fields as [string, string, string, string, string];
  // Give cronstrue the day fields as cron actually combines them.
  let descDom = dom;
  let descDow = dow === "*" ? "*" : dowList(c.dow);
  let note = "";
  const everyDay = c.daysAnd ? c.domAll && c.dowAll : c.domAll || c.dowAll;
  if (everyDay) {
    descDom = "*";
    descDow = "*";
  } else if (c.daysAnd && c.domAll) descDom = "*";
  else if (c.daysAnd && c.dowAll) descDow = "*";
  else if (c.daysAnd) note = " (only when the day of the month and the day of the week both match)";
  let text: string;
  try {
    text = cronstrue.toString(`${minute} ${hour} ${descDom} ${month} ${descDow}`, {
      use24HourTimeFormat: true,
      throwExceptionOnParseError: true,
    });
  } catch {
    // cronstrue throws strings, not Errors; a description is never worth failing for.
    text = s.expr;
  }
  text += note;
  return tz === "UTC" ? text : `${text} (${tz})`;
}

/** Day-of-week set as the fewest runs: {5,6,0} -> "5-7", {1..5} -> "1-5", {0,3} -> "0,3". */
function dowList(dow: boolean[]): string {
  const zeroBased = range(0, 6).filter((d) => dow[d]);
  const oneBased = range(1, 7).filter((d) => dow[d % 7]);
  const a = runs(zeroBased);
  const b = runs(oneBased);
  return (b.length < a.length ? b : a).join(",");
}

function runs(values: number[]): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    if (j - i >= 2) out.push(`${values[i]}-${values[j]}`);
    else for (let k = i; k <= j; k++) out.push(String(values[k]));
    i = j + 1;
  }
  return out;
}

function describeEvery(seconds: number): string {
  for (const [unit, size] of [["day", 86_400], ["hour", 3_600], ["minute", 60], ["second", 1]] as const) {
    if (seconds % size === 0) {
      const q = seconds / size;
      if (q === 1) return `Every ${unit}`;
      // "Every 90 minutes" reads well; "Every 86401 seconds" does not.
      if (q <= 120 || unit === "day") return `Every ${q} ${unit}s`;
      break;
    }
  }
  return `Every ${formatDuration(seconds)}`;
}

// ---------------------------------------------------------------------------------------

function typeName(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "boolean") return `${v}`;
  return `a ${typeof v}`;
}
