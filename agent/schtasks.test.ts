import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Invalid } from "../src/errors";
import { nextRuns, parseSchedule } from "../src/jobs/schedule";
import { TaskSchedulerBackend, type DesiredTask } from "./schtasks";
import { CommandTimeout, decodeOutput, systemRunner, type CommandRunner } from "./spawn";
import { quoteWindowsArg, readMarker, taskName, taskXml, utf16le, type TaskEntry } from "./taskxml";
import { cronToTriggers, fireTimes, MAX_TRIGGERS, type Trigger } from "./triggers";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString().replace(":00.000Z", "Z");
const EXE = "C:\\Program Files\\Crontopus\\crontopus.exe";

/** The schedule's run times in [from, to), from the server's own evaluator. */
function runs(expr: string, tz: string, from: number, to: number): number[] {
  const s = parseSchedule("schedule", expr, tz);
  const out: number[] = [];
  let after = from - 1;
  for (;;) {
    const batch = nextRuns(s, tz, after, 1000);
    for (const t of batch) {
      if (t >= to) return out;
      out.push(t);
    }
    after = batch[batch.length - 1]!;
  }
}

/** Whether triggers start the task at every run time (and, when `exact`, at no other). */
function coverage(expr: string, jobTz: string, hostTz: string, from: number, to: number) {
  const { triggers, exact } = cronToTriggers(expr, jobTz, hostTz);
  const due = runs(expr, jobTz, from, to);
  const fired = fireTimes(triggers, from, to, hostTz);
  const firedSet = new Set(fired);
  return { triggers, exact, due, fired, missed: due.filter((t) => !firedSet.has(t)) };
}

// ---------------------------------------------------------------------------------------

describe("cronToTriggers", () => {
  test("daily at 02:00 is one daily trigger, exact even across New York's clock changes", () => {
    const { triggers, exact } = cronToTriggers("0 2 * * *", "America/New_York", "America/New_York");
    expect(triggers).toEqual([{ kind: "calendar", days: { kind: "daily" }, at: 120 }]);
    expect(exact).toBe(true);
    // 02:00 does not exist on 8 March 2026: cron and Task Scheduler both start at 03:00 EDT.
    const c = coverage("0 2 * * *", "America/New_York", "America/New_York", at("2026-03-07T00:00Z"), at("2026-03-10T00:00Z"));
    expect(c.fired.map(iso)).toEqual(["2026-03-07T07:00Z", "2026-03-08T07:00Z", "2026-03-09T06:00Z"]);
    expect(c.fired).toEqual(c.due);
  });

  test("every 15 minutes is one TimeTrigger repeating for ever, which follows the clock through DST", () => {
    const { triggers, exact } = cronToTriggers("*/15 * * * *", "America/New_York", "America/New_York");
    expect(triggers).toEqual([{ kind: "time", start: { wall: 0 }, everyMin: 15 }]);
    expect(exact).toBe(true);
    const c = coverage("*/15 * * * *", "America/New_York", "America/New_York", at("2026-10-31T00:00Z"), at("2026-11-03T00:00Z"));
    expect(c.fired).toEqual(c.due);
  });

  test("weekdays hourly from 9 to 17 is one weekly trigger repeating nine times", () => {
    const { triggers, exact } = cronToTriggers("0 9-17 * * 1-5", "Europe/Berlin", "Europe/Berlin");
    expect(triggers).toEqual([
      { kind: "calendar", days: { kind: "weekly", daysOfWeek: [1, 2, 3, 4, 5] }, at: 540, repeat: { everyMin: 60, count: 9 } },
    ]);
    expect(exact).toBe(true);
  });

  test("the 1st and 15th of the month is one monthly trigger", () => {
    const { triggers, exact } = cronToTriggers("0 3 1,15 * *", "UTC", "UTC");
    expect(triggers).toEqual([
      { kind: "calendar", days: { kind: "monthly", months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], daysOfMonth: [1, 15] }, at: 180 },
    ]);
    expect(exact).toBe(true);
  });

  test("weekdays in some months use the monthly day-of-week schedule", () => {
    const { triggers, exact } = cronToTriggers("0 6 * jan-mar mon", "UTC", "UTC");
    expect(triggers).toEqual([{ kind: "calendar", days: { kind: "monthlyDow", months: [1, 2, 3], daysOfWeek: [1] }, at: 360 }]);
    expect(exact).toBe(true);
  });

  test("cron's day-of-month OR day-of-week becomes two triggers", () => {
    const { triggers, exact } = cronToTriggers("0 0 1,15 * FRI", "UTC", "UTC");
    expect(triggers.map((t) => t.kind === "calendar" && t.days.kind)).toEqual(["monthly", "weekly"]);
    expect(exact).toBe(true);
    // Friday 1 May 2026 matches both: one start (IgnoreNew), as cron runs once.
    const c = coverage("0 0 1,15 * FRI", "UTC", "UTC", at("2026-05-01T00:00Z"), at("2026-05-02T00:00Z"));
    expect(c.fired.map(iso)).toEqual(["2026-05-01T00:00Z"]);
  });

  test("an AND of two restricted day fields keeps the smaller rule as a superset", () => {
    // Odd days that are Mondays: Task Scheduler has no AND, so every Monday, and exec gates.
    const { triggers, exact } = cronToTriggers("0 0 */2 * MON", "UTC", "UTC");
    expect(triggers).toEqual([{ kind: "calendar", days: { kind: "weekly", daysOfWeek: [1] }, at: 0 }]);
    expect(exact).toBe(false);
  });

  test("every 7 minutes, which restarts at each hour, is nine hourly triggers and exact", () => {
    const { triggers, exact } = cronToTriggers("*/7 * * * *", "UTC", "UTC");
    expect(triggers).toHaveLength(9);
    expect(triggers[1]).toEqual({ kind: "calendar", days: { kind: "daily" }, at: 7, repeat: { everyMin: 60, count: 24 } });
    expect(exact).toBe(true);
  });

  test("02:30 in New York also starts at 03:00, because on the spring-forward day cron runs it then", () => {
    const { triggers, exact } = cronToTriggers("30 2 * * *", "America/New_York", "America/New_York");
    expect(triggers.map((t) => t.kind === "calendar" && t.at)).toEqual([150, 180]);
    expect(exact).toBe(false);
    const c = coverage("30 2 * * *", "America/New_York", "America/New_York", at("2026-03-08T00:00Z"), at("2026-03-09T00:00Z"));
    expect(c.due.map(iso)).toEqual(["2026-03-08T07:00Z"]);
    expect(c.missed).toEqual([]);
  });

  test("every 2 hours in New York uses separate starts, which keep to the wall clock after DST", () => {
    // One repetition every 2h would count elapsed time and drift to odd hours in summer.
    const { triggers } = cronToTriggers("0 */2 * * *", "America/New_York", "America/New_York");
    expect(triggers).toHaveLength(12);
    expect(triggers.every((t) => t.kind === "calendar" && !t.repeat)).toBe(true);
    const c = coverage("0 */2 * * *", "America/New_York", "America/New_York", at("2026-03-01T00:00Z"), at("2026-04-01T00:00Z"));
    expect(c.missed).toEqual([]);
  });

  test("a repetition through the repeated hour is extended so it still reaches its last run", () => {
    const { triggers, exact } = cronToTriggers("*/5 1-3 * * *", "America/New_York", "America/New_York");
    expect(exact).toBe(false);
    const c = coverage("*/5 1-3 * * *", "America/New_York", "America/New_York", at("2026-11-01T04:00Z"), at("2026-11-01T10:00Z"));
    expect(c.due).toHaveLength(48); // 01:00-01:55 twice, 02:00-03:55 once
    expect(c.missed).toEqual([]);
    expect(triggers.length).toBeLessThanOrEqual(3);
  });

  test("a Berlin job on a New York host fires at both offset differences and is not exact", () => {
    const { triggers, exact } = cronToTriggers("0 2 * * *", "Europe/Berlin", "America/New_York");
    // 02:00 in Berlin is 20:00 the evening before in New York, or 21:00 in the weeks of
    // March and October when only one side has changed its clocks.
    expect(triggers.map((t) => t.kind === "calendar" && t.at)).toEqual([1200, 1260]);
    expect(exact).toBe(false);
    const c = coverage("0 2 * * *", "Europe/Berlin", "America/New_York", at("2026-03-01T00:00Z"), at("2026-11-30T00:00Z"));
    expect(c.missed).toEqual([]);
  });

  test("a UTC job on an Asia/Kolkata host is exact: the offset never changes", () => {
    const { triggers, exact } = cronToTriggers("0 23 * * MON", "UTC", "Asia/Kolkata");
    expect(triggers).toEqual([{ kind: "calendar", days: { kind: "weekly", daysOfWeek: [2] }, at: 270 }]);
    expect(exact).toBe(true);
  });

  test("a day of the month moved across a month end by the offset is a superset", () => {
    // 20:00 UTC on the 31st is 01:30 on the 1st in Kolkata, but only after 31-day months.
    const { exact } = cronToTriggers("0 20 31 * *", "UTC", "Asia/Kolkata");
    expect(exact).toBe(false);
    const c = coverage("0 20 31 * *", "UTC", "Asia/Kolkata", at("2026-01-01T00:00Z"), at("2027-01-01T00:00Z"));
    expect(c.due).toHaveLength(7);
    expect(c.missed).toEqual([]);
  });

  test("zones with the same clock count as the same zone", () => {
    expect(cronToTriggers("0 2 * * *", "Europe/Paris", "Europe/Berlin").exact).toBe(true);
  });

  test("scattered times beyond the trigger budget fall back to a coarser grid, within 48 triggers", () => {
    const expr = "1,4,9,16,25,36,49 0,1,3,6,10,15,21 * * *";
    const { triggers, exact } = cronToTriggers(expr, "UTC", "UTC");
    expect(triggers.length).toBeLessThanOrEqual(MAX_TRIGGERS);
    expect(exact).toBe(false);
    const c = coverage(expr, "UTC", "UTC", at("2026-01-01T00:00Z"), at("2026-01-03T00:00Z"));
    expect(c.missed).toEqual([]);
  });

  test("@every with an anchor is one TimeTrigger from the anchor, in UTC", () => {
    const anchor = at("2026-01-01T12:00:30Z");
    expect(cronToTriggers("@every 90m", "UTC", "America/New_York", anchor)).toEqual({
      triggers: [{ kind: "time", start: { utc: anchor }, everyMin: 90 }],
      exact: true,
    });
  });

  test("@every's TimeTrigger starts exactly at the schedule's runs", () => {
    // Across New York's spring-forward night: @every ignores clocks, and so does the trigger.
    const anchor = at("2026-03-07T23:59:00Z");
    const s = parseSchedule("schedule", "@every 90m", "America/New_York");
    const from = anchor - 1;
    const due = nextRuns(s, "America/New_York", from, 40, anchor);
    const { triggers } = cronToTriggers("@every 90m", "America/New_York", "America/New_York", anchor);
    expect(fireTimes(triggers, from, due[39]! + 1, "America/New_York")).toEqual(due);
  });

  test("@every without an anchor, or not in whole minutes, starts every minute and lets exec gate", () => {
    const everyMinute: ReturnType<typeof cronToTriggers> = { triggers: [{ kind: "time", start: { wall: 0 }, everyMin: 1 }], exact: false };
    expect(cronToTriggers("@every 1h", "UTC", "UTC")).toEqual(everyMinute);
    expect(cronToTriggers("@every 90s", "UTC", "UTC", at("2026-01-01T00:00Z"))).toEqual(everyMinute);
  });

  test("rejects what parseSchedule rejects, with the same message", () => {
    expect(() => cronToTriggers("0 0 30 2 *", "UTC", "UTC")).toThrow(Invalid);
  });
});

// ---------------------------------------------------------------------------------------
// The property: every run time is a start; exact means nothing else is.

/** mulberry32: small, seeded, good enough to pick test cases. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomSchedule(rnd: () => number): string {
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  if (rnd() < 0.05) return ["@hourly", "@daily", "@weekly", "@monthly", "@yearly"][int(0, 4)]!;
  const field = (min: number, max: number, star: number, names?: string[]) => {
    if (rnd() < star) return "*";
    const value = (v: number) => (names && rnd() < 0.3 ? names[v - min]! : String(v));
    const item = () => {
      const r = rnd();
      const a = int(min, max);
      const b = int(a, max);
      if (r < 0.3) return value(a);
      if (r < 0.5) return `${value(a)}-${value(b)}`;
      if (r < 0.7) return `${a}-${b}/${int(1, Math.max(1, max - min))}`;
      return `*/${int(1, max - min)}`;
    };
    return Array.from({ length: int(1, 3) }, item).join(",");
  };
  const months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
  const days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
  return [field(0, 59, 0.15), field(0, 23, 0.3), field(1, 31, 0.7), field(1, 12, 0.85, months), field(0, 7, 0.7, days)].join(" ");
}

// DST in both hemispheres, half-hour DST (Lord Howe), midnight changes (Santiago), odd
// offsets (St John's, Kathmandu, Chatham), and zones without DST.
const ZONES = [
  "UTC",
  "America/New_York",
  "Europe/Berlin",
  "Europe/London",
  "Australia/Lord_Howe",
  "America/Santiago",
  "America/St_Johns",
  "Pacific/Chatham",
  "Asia/Kolkata",
  "Asia/Kathmandu",
];
// Each month holds a clock change somewhere among ZONES.
const MONTHS = [
  [2026, 2],
  [2026, 3],
  [2026, 8],
  [2026, 9],
  [2026, 10],
] as const;

describe("cronToTriggers, for random schedules over months with clock changes", () => {
  for (const seed of [1, 2, 3, 4]) {
    test(`every run time is a start, and exact triggers start at nothing else (seed ${seed})`, () => {
      const rnd = prng(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
      let checked = 0;
      while (checked < 100) {
        const expr = randomSchedule(rnd);
        const jobTz = pick(ZONES);
        // Half on the job's own zone; some on zones a constant offset away.
        const r = rnd();
        const hostTz = r < 0.5 ? jobTz : r < 0.6 ? pick(["UTC", "Asia/Kolkata", "Asia/Kathmandu"]) : pick(ZONES);
        try {
          parseSchedule("schedule", expr, jobTz);
        } catch {
          continue; // e.g. "0 0 31 2 *", which never runs
        }
        checked++;
        const [y, m] = pick(MONTHS);
        const from = Date.UTC(y, m, 1) - 14 * 3_600_000;
        const to = Date.UTC(y, m + 1, 1) + 14 * 3_600_000;
        const c = coverage(expr, jobTz, hostTz, from, to);
        const label = `${expr} in ${jobTz} on a ${hostTz} host, ${y}-${m + 1}`;
        // The label names the failing case in the diff.
        expect({ label, triggers: Math.min(c.triggers.length, MAX_TRIGGERS + 1), missed: c.missed.map(iso) }).toEqual({
          label,
          triggers: Math.min(c.triggers.length, MAX_TRIGGERS),
          missed: [],
        });
        if (c.exact) expect({ label, starts: c.fired.length }).toEqual({ label, starts: c.due.length });
        // Should Task Scheduler repeat on the wall clock instead, only runs in the second
        // pass of a repeated hour may be missed: no wall-clock start can reach those.
        const wallFired = new Set(fireTimes(c.triggers, from, to, hostTz, { repetition: "wall" }));
        const firstPassMissed = c.due.filter((t) => !wallFired.has(t) && !secondPass(t, hostTz));
        expect({ label, firstPassMissed: firstPassMissed.map(iso) }).toEqual({ label, firstPassMissed: [] });
      }
    });
  }
});

/** Whether the host's clock showed the same minute at `t` already, before it was set back. */
function secondPass(t: number, tz: string): boolean {
  const f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", dateStyle: "short", timeStyle: "short" });
  return [30, 60, 120].some((back) => f.format(t - back * 60_000) === f.format(t));
}

// ---------------------------------------------------------------------------------------

describe("fireTimes", () => {
  const daily = (at: number, repeat?: { everyMin: number; count: number }): Trigger => ({
    kind: "calendar",
    days: { kind: "daily" },
    at,
    ...(repeat ? { repeat } : {}),
  });

  test("a repetition starts at the end of its duration too", () => {
    // Interval 1 minute, duration 4 minutes: five starts (Microsoft's own example).
    const fired = fireTimes([daily(600, { everyMin: 1, count: 5 })], at("2026-01-05T00:00Z"), at("2026-01-06T00:00Z"), "UTC");
    expect(fired.map(iso)).toEqual(["2026-01-05T10:00Z", "2026-01-05T10:01Z", "2026-01-05T10:02Z", "2026-01-05T10:03Z", "2026-01-05T10:04Z"]);
  });

  test("a start in the spring-forward gap is read with the old offset; one in the repeated hour starts once", () => {
    const ny = "America/New_York";
    expect(fireTimes([daily(150)], at("2026-03-08T00:00Z"), at("2026-03-09T00:00Z"), ny).map(iso)).toEqual(["2026-03-08T07:30Z"]);
    expect(fireTimes([daily(90)], at("2026-11-01T00:00Z"), at("2026-11-02T00:00Z"), ny).map(iso)).toEqual(["2026-11-01T05:30Z"]);
  });

  test("repetitions count elapsed time through a clock change", () => {
    const fired = fireTimes([daily(60, { everyMin: 60, count: 3 })], at("2026-11-01T00:00Z"), at("2026-11-02T00:00Z"), "America/New_York");
    // 01:00 EDT, 01:00 EST, 02:00 EST.
    expect(fired.map(iso)).toEqual(["2026-11-01T05:00Z", "2026-11-01T06:00Z", "2026-11-01T07:00Z"]);
  });

  test("nothing starts before the triggers' start date", () => {
    expect(fireTimes([daily(0)], at("2019-12-30T00:00Z"), at("2020-01-02T00:00Z"), "UTC").map(iso)).toEqual(["2020-01-01T00:00Z"]);
  });
});

// ---------------------------------------------------------------------------------------
// Windows command lines

/**
 * CommandLineToArgvW's rules for the arguments after the program name. `pairInQuotes` is
 * what `""` inside quotes does: the C runtime since 2008 keeps quoting ("stay"), older
 * runtimes and shell32 end it ("end"). quoteWindowsArg must work under both.
 */
function parseArgs(line: string, pairInQuotes: "stay" | "end"): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (i >= line.length) break;
    let arg = "";
    let quoted = false;
    while (i < line.length && (quoted || (line[i] !== " " && line[i] !== "\t"))) {
      let n = 0;
      while (line[i] === "\\") {
        n++;
        i++;
      }
      if (line[i] === '"') {
        arg += "\\".repeat(Math.floor(n / 2));
        if (n % 2 === 1) {
          arg += '"';
          i++;
        } else if (quoted && line[i + 1] === '"') {
          arg += '"';
          i += 2;
          if (pairInQuotes === "end") quoted = false;
        } else {
          quoted = !quoted;
          i++;
        }
      } else {
        arg += "\\".repeat(n);
        if (i < line.length && (quoted || (line[i] !== " " && line[i] !== "\t"))) arg += line[i++];
      }
    }
    out.push(arg);
  }
  return out;
}

/** ExpandEnvironmentStrings, which Task Scheduler applies to Arguments; `resume` is where scanning goes on after an unset %name%. */
function expandEnv(s: string, env: Record<string, string>, resume: "first" | "second"): string {
  const vars = new Map(Object.entries(env).map(([k, v]) => [k.toLowerCase(), v]));
  let out = "";
  let i = 0;
  while (i < s.length) {
    const open = s.indexOf("%", i);
    if (open < 0) return out + s.slice(i);
    const close = s.indexOf("%", open + 1);
    if (close < 0) return out + s.slice(i);
    const value = vars.get(s.slice(open + 1, close).toLowerCase());
    if (value !== undefined) {
      out += s.slice(i, open) + value;
      i = close + 1;
    } else {
      const next = resume === "first" ? open + 1 : close;
      out += s.slice(i, next);
      i = next;
    }
  }
  return out;
}

const ENV = { PATH: "C:\\Windows", TEMP: "C:\\Temp", USERNAME: "SYSTEM", X: "expanded", A: "expanded" };

function roundTrip(args: string[]): string[][] {
  const line = args.map(quoteWindowsArg).join(" ");
  return (["stay", "end"] as const).flatMap((pair) =>
    (["first", "second"] as const).map((resume) => parseArgs(expandEnv(line, ENV, resume), pair)),
  );
}

describe("quoteWindowsArg", () => {
  test.each([
    ["plain", "plain"],
    ["", '""'],
    ["two words", '"two words"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["C:\\dir\\", "C:\\dir\\"],
    ["C:\\my dir\\", '"C:\\my dir\\\\"'],
    ['a\\"b', '"a\\\\\\"b"'],
    ["50%", '"50%"'],
    ["%PATH%", '"%"P"ATH%"'],
    ["%%", '"%"%""'],
    ["tab\there", '"tab\there"'],
  ])("quotes %p as %p", (arg, quoted) => {
    expect(quoteWindowsArg(arg)).toBe(quoted);
  });

  test("survives Task Scheduler's %VAR% expansion and CommandLineToArgvW, for awkward arguments", () => {
    const args = ["%PATH%", "%TEMP%\\out", "50%", "a%X%b c", "%USERNAME", "%%A%%", 'q"%X%"', "end\\", "ünï cødé 日本 😀", "", "\\\\server\\share dir\\"];
    for (const parsed of roundTrip(args)) expect(parsed).toEqual(args);
  });

  test("survives them for random arguments", () => {
    const rnd = prng(42);
    const alphabet = ["a", "b", "X", "A", " ", "\t", "\\", '"', "%", "&", "<", "ü", "😀", "PATH", "TEMP"];
    for (let n = 0; n < 2000; n++) {
      const args = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () =>
        Array.from({ length: Math.floor(rnd() * 8) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join(""),
      );
      for (const parsed of roundTrip(args)) expect(parsed).toEqual(args);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Task XML, against golden files

const GOLDEN = join(import.meta.dir, "testdata", "schtasks");
const NEW_YORK = { timezone: "America/New_York" };
const JOB_ID = "3f2c1a9e-5b7d-4e21-9c0a-7d1e2f3a4b5c";
const exec = (...command: string[]) => [EXE, "exec", "--job", JOB_ID, "--", ...command];

const GOLDEN_CASES: Array<{ file: string; entry: TaskEntry; host: Parameters<typeof taskXml>[1] }> = [
  {
    file: "daily-0200.xml",
    entry: { jobId: JOB_ID, ref: "ops/db-backup", schedule: "0 2 * * *", timezone: "America/New_York", command: exec("C:\\backup\\run.cmd"), paused: false },
    host: NEW_YORK,
  },
  {
    file: "every-15-minutes.xml",
    entry: { jobId: JOB_ID, ref: "ops/queue-check", schedule: "*/15 * * * *", timezone: "America/New_York", command: exec("C:\\tools\\check.exe"), paused: false },
    host: NEW_YORK,
  },
  {
    file: "weekdays-hourly-9-17.xml",
    entry: { jobId: JOB_ID, ref: "sales/sync-crm", schedule: "0 9-17 * * 1-5", timezone: "America/New_York", command: exec("C:\\sync\\crm.exe", "--full"), paused: false },
    host: NEW_YORK,
  },
  {
    file: "monthly-1st-15th.xml",
    entry: { jobId: JOB_ID, ref: "billing/invoices", schedule: "0 3 1,15 * *", timezone: "America/New_York", command: exec("C:\\billing\\invoice.exe"), paused: false },
    host: NEW_YORK,
  },
  {
    file: "other-timezone.xml",
    entry: { jobId: JOB_ID, ref: "eu/reports", schedule: "0 2 * * *", timezone: "Europe/Berlin", command: exec("C:\\reports\\eu.exe"), paused: false },
    host: NEW_YORK,
  },
  {
    file: "paused.xml",
    entry: { jobId: JOB_ID, ref: "ops/rotate-logs", schedule: "30 4 * * 0", timezone: "America/New_York", command: exec("C:\\ops\\rotate.exe"), paused: true },
    host: NEW_YORK,
  },
  {
    file: "run-as-user.xml",
    entry: { jobId: JOB_ID, ref: "ops/cleanup", schedule: "@daily", timezone: "America/New_York", command: exec("C:\\ops\\cleanup.exe"), paused: false },
    host: { timezone: "America/New_York", runAs: { user: "CORP\\svc-crontopus", logonType: "S4U" } },
  },
  {
    file: "tricky-command.xml",
    entry: {
      jobId: JOB_ID,
      ref: "ops/tricky",
      schedule: "15 6 * * *",
      timezone: "America/New_York",
      command: exec("C:\\Tools\\backup tool.exe", "--label", 'Q&A <daily> "full"', "50%", "%TEMP%\\out", "ünïcødé ✓ 日本", "C:\\dir with space\\"),
      paused: false,
      description: "Nightly <backup> & verify",
    },
    host: NEW_YORK,
  },
];

describe("taskXml", () => {
  test.each(GOLDEN_CASES.map((c) => [c.file, c] as const))("matches testdata/schtasks/%s byte for byte", (file, c) => {
    const xml = taskXml(c.entry, c.host);
    const path = join(GOLDEN, file);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, xml);
    expect(xml).toBe(readFileSync(path, "utf8"));
  });

  test("every golden file has a test case (delete stale ones after renaming)", () => {
    expect(readdirSync(GOLDEN).sort()).toEqual(GOLDEN_CASES.map((c) => c.file).sort());
  });

  test("the action's arguments read back as the job's argv", () => {
    const c = GOLDEN_CASES.find((g) => g.file === "tricky-command.xml")!;
    const xml = taskXml(c.entry, c.host);
    const args = /<Arguments>([^<]*)<\/Arguments>/.exec(xml)![1]!.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    expect(parseArgs(expandEnv(args, ENV, "first"), "stay")).toEqual(c.entry.command.slice(1));
    expect(xml).toContain(`<Command>"${EXE}"</Command>`);
  });

  test("the marker carries the job id and a hash that changes with anything in the task", () => {
    const entry = GOLDEN_CASES[0]!.entry;
    const marker = readMarker(taskXml(entry, NEW_YORK))!;
    expect(marker.jobId).toBe(JOB_ID);
    expect(readMarker(taskXml({ ...entry, paused: true }, NEW_YORK))!.hash).not.toBe(marker.hash);
    expect(readMarker(taskXml({ ...entry, schedule: "0 3 * * *" }, NEW_YORK))!.hash).not.toBe(marker.hash);
    expect(readMarker(taskXml(entry, { timezone: "UTC" }))!.hash).not.toBe(marker.hash);
    expect(readMarker(taskXml(entry, NEW_YORK))!.hash).toBe(marker.hash);
  });

  test("says in the description when exec gates starts", () => {
    expect(taskXml({ ...GOLDEN_CASES[4]!.entry }, NEW_YORK)).toContain("crontopus runs the job only when it is due");
    expect(taskXml({ ...GOLDEN_CASES[0]!.entry }, NEW_YORK)).toContain("starts it at exactly these times");
  });

  test.each([
    [[], "command: is empty"],
    [['C:\\"odd"\\x.exe'], 'command[0]: the executable path cannot contain " or %'],
    [["%ProgramFiles%\\x.exe"], "command[0]"],
    [[EXE, "bell\u0007"], "command[1]: contains U+0007"],
    [[EXE, "half \uD800 surrogate"], "command[1]: contains U+D800"],
  ])("rejects the command %p", (command, message) => {
    expect(() => taskXml({ ...GOLDEN_CASES[0]!.entry, command }, NEW_YORK)).toThrow(message);
  });

  test("keeps a carriage return in an argument as a character reference", () => {
    expect(taskXml({ ...GOLDEN_CASES[0]!.entry, command: [EXE, "a\r\nb"] }, NEW_YORK)).toContain('<Arguments>"a&#13;\nb"</Arguments>');
  });

  test("names the folder it is given in the task's URI", () => {
    expect(taskXml(GOLDEN_CASES[0]!.entry, NEW_YORK, "Acme\\Jobs")).toContain("<URI>\\Acme\\Jobs\\ops.db-backup</URI>");
  });

  test("rejects a job id that would not survive in the marker", () => {
    expect(() => taskXml({ ...GOLDEN_CASES[0]!.entry, jobId: "two words" }, NEW_YORK)).toThrow('jobId: "two words" is not a job id');
  });

  test("task names come from the ref, one-to-one", () => {
    expect(taskName("ops/db-backup")).toBe("ops.db-backup");
    expect(taskName("a b:c")).toBe("a_b_c");
    expect(() => taskName("")).toThrow(Invalid);
  });
});

describe("utf16le and decodeOutput", () => {
  test("writes a byte order mark and little-endian code units, surrogate pairs included", () => {
    expect([...utf16le("A€😀")]).toEqual([0xff, 0xfe, 0x41, 0x00, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde]);
  });

  test("reads schtasks output in UTF-8 or UTF-16, with or without a byte order mark", () => {
    const text = "<!-- \\Crontopus\\ops.db-backup -->";
    expect(decodeOutput(new TextEncoder().encode(text))).toBe(text);
    expect(decodeOutput(utf16le(text))).toBe(text);
    expect(decodeOutput(utf16le(text).subarray(2))).toBe(text);
  });
});

// ---------------------------------------------------------------------------------------
// The backend, against a fake schtasks

/**
 * Plays schtasks.exe: keeps tasks by name, reads the XML files /Create is given (and
 * records their bytes), answers /Query /XML ONE the way Windows prints it (a <Tasks>
 * document with a comment naming each task, CRLF line ends, re-indented), and can be told
 * to fail, hang, or store something else than it was given.
 */
class FakeSchtasks implements CommandRunner {
  readonly calls: string[][] = [];
  readonly files: Array<{ path: string; bytes: Uint8Array }> = [];
  readonly tasks = new Map<string, { name: string; xml: string }>();
  failCreate = new Set<string>();
  hang: (argv: string[]) => boolean = () => false;
  /** What Task Scheduler keeps of a created task; null keeps nothing (wine keeps no triggers; here, nothing). */
  store: (xml: string) => string | null = (xml) => xml;

  constructor() {
    // Someone else's tasks: one elsewhere, one hand-made in our folder, one in a subfolder.
    this.put("\\Microsoft\\Windows\\Defrag\\ScheduledDefrag", "<Task><RegistrationInfo><Description>defrag</Description></RegistrationInfo></Task>");
    this.put("\\Crontopus\\hand-made", "<Task><RegistrationInfo><Description>made by hand</Description></RegistrationInfo></Task>");
    this.put("\\Crontopus\\sub\\nested", `<Task><RegistrationInfo><Description>crontopus:job x 0123456789abcdef</Description></RegistrationInfo></Task>`);
  }

  put(name: string, xml: string): void {
    this.tasks.set(name.toLowerCase(), { name, xml });
  }

  async run(argv: string[], opts: { input?: Uint8Array; timeoutMs: number }) {
    this.calls.push(argv);
    if (this.hang(argv)) throw new CommandTimeout(argv, opts.timeoutMs);
    const arg = (flag: string) => argv[argv.indexOf(flag) + 1]!;
    switch (argv[1]) {
      case "/Query": {
        const body = [...this.tasks.values()].map(({ name, xml }) => `  <!-- ${name} -->\r\n${reprint(xml)}`);
        return { code: 0, stdout: `<?xml version="1.0" encoding="UTF-16"?>\r\n<Tasks>\r\n${body.join("\r\n")}\r\n</Tasks>\r\n`, stderr: "" };
      }
      case "/Create": {
        const bytes = new Uint8Array(readFileSync(arg("/XML")));
        this.files.push({ path: arg("/XML"), bytes });
        if (bytes[0] !== 0xff || bytes[1] !== 0xfe) return { code: 1, stdout: "", stderr: "ERROR: The task XML is malformed." };
        const name = arg("/TN");
        if (this.failCreate.has(name)) return { code: 1, stdout: "", stderr: `ERROR: Access is denied.\r\n` };
        const kept = this.store(new TextDecoder("utf-16le").decode(bytes.subarray(2)));
        if (kept !== null) this.put(name, kept);
        return { code: 0, stdout: `SUCCESS: The scheduled task "${name}" has successfully been created.\r\n`, stderr: "" };
      }
      case "/Delete": {
        const name = arg("/TN");
        if (!this.tasks.delete(name.toLowerCase())) {
          return { code: 1, stdout: "", stderr: "ERROR: The system cannot find the file specified.\r\n" };
        }
        return { code: 0, stdout: `SUCCESS: The scheduled task "${name}" was successfully deleted.\r\n`, stderr: "" };
      }
    }
    return { code: 1, stdout: "", stderr: "ERROR: Invalid argument/option." };
  }

  verbs(): string[] {
    return this.calls.map((c) => [c[1], c[1] === "/Create" || c[1] === "/Delete" ? c[3] : ""].join(" ").trim());
  }
}

/** Task XML the way Windows prints it back: no declaration, CRLF, its own indentation. */
function reprint(xml: string): string {
  return xml
    .replace(/^<\?xml[^>]*>\n/, "")
    .split("\n")
    .map((l) => l.replace(/^( *)/, (s) => s + s))
    .join("\r\n")
    .trimEnd();
}

function job(ref: string, jobId: string, schedule = "0 2 * * *"): DesiredTask {
  return { jobId, ref, schedule, timezone: "America/New_York", command: [EXE, "exec", "--job", jobId, "--", "C:\\jobs\\run.cmd", ref], paused: false };
}

const BACKUP = job("ops/db-backup", "11111111-1111-4111-8111-111111111111");
const ROTATE = job("ops/rotate-logs", "22222222-2222-4222-8222-222222222222", "30 4 * * 0");
const INVOICES = job("billing/invoices", "33333333-3333-4333-8333-333333333333", "0 3 1,15 * *");

function backend(fake: FakeSchtasks) {
  const tmpDir = mkdtempSync(join(tmpdir(), "crontopus-schtasks-"));
  return { tmpDir, tasks: new TaskSchedulerBackend(fake, { tmpDir, host: NEW_YORK, timeoutMs: 5_000 }) };
}

describe("TaskSchedulerBackend", () => {
  test("creates each job's task from a UTF-16 XML file, then finds it by its marker", async () => {
    const fake = new FakeSchtasks();
    const { tasks, tmpDir } = backend(fake);

    const results = await tasks.apply([BACKUP, ROTATE]);

    expect(results).toEqual([
      { jobId: BACKUP.jobId, state: "applied", message: "created \\Crontopus\\ops.db-backup" },
      { jobId: ROTATE.jobId, state: "applied", message: "created \\Crontopus\\ops.rotate-logs" },
    ]);
    expect(fake.verbs()).toEqual(["/Query", "/Create \\Crontopus\\ops.db-backup", "/Create \\Crontopus\\ops.rotate-logs", "/Query"]);
    const create = fake.calls[1]!;
    expect(create.slice(0, 4)).toEqual(["schtasks", "/Create", "/TN", "\\Crontopus\\ops.db-backup"]);
    expect(create.slice(5)).toEqual([create[5]!, "/F"]);
    expect(fake.files[0]!.bytes).toEqual(utf16le(taskXml(BACKUP, NEW_YORK)));
    // The XML files are removed once schtasks has read them.
    expect(readdirSync(tmpDir)).toEqual([]);

    expect(await tasks.list()).toEqual([
      { name: "\\Crontopus\\hand-made", jobId: null, hash: null },
      { name: "\\Crontopus\\ops.db-backup", jobId: BACKUP.jobId, hash: readMarker(taskXml(BACKUP, NEW_YORK))!.hash },
      { name: "\\Crontopus\\ops.rotate-logs", jobId: ROTATE.jobId, hash: readMarker(taskXml(ROTATE, NEW_YORK))!.hash },
    ]);
  });

  test("leaves tasks alone whose marker already matches", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    await tasks.apply([BACKUP, ROTATE]);
    fake.calls.length = 0;

    const results = await tasks.apply([BACKUP, ROTATE]);

    expect(results.map((r) => r.message)).toEqual(["unchanged", "unchanged"]);
    expect(fake.verbs()).toEqual(["/Query"]);
  });

  test("replaces a task when the job changed", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    await tasks.apply([BACKUP]);
    const before = readMarker(fake.tasks.get("\\crontopus\\ops.db-backup")!.xml)!.hash;

    const results = await tasks.apply([{ ...BACKUP, schedule: "0 5 * * *" }]);

    expect(results[0]!.state).toBe("applied");
    expect(results[0]!.message).toBe(`replaced \\Crontopus\\ops.db-backup (it had marker ${BACKUP.jobId} ${before})`);
    expect(fake.tasks.get("\\crontopus\\ops.db-backup")!.xml).toContain("<StartBoundary>2020-01-01T05:00:00</StartBoundary>");
  });

  test("repairs a task edited or deleted by hand, whose marker no longer matches", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    await tasks.apply([BACKUP, ROTATE]);
    const stored = fake.tasks.get("\\crontopus\\ops.db-backup")!;
    stored.xml = stored.xml.replace(/(crontopus:job \S+ )[0-9a-f]{16}/, "$1ffffffffffffffff");
    fake.tasks.delete("\\crontopus\\ops.rotate-logs");
    fake.calls.length = 0;

    const results = await tasks.apply([BACKUP, ROTATE]);

    expect(results).toEqual([
      { jobId: BACKUP.jobId, state: "applied", message: `replaced \\Crontopus\\ops.db-backup (it had marker ${BACKUP.jobId} ffffffffffffffff)` },
      { jobId: ROTATE.jobId, state: "applied", message: "created \\Crontopus\\ops.rotate-logs" },
    ]);
    expect(fake.verbs()).toEqual(["/Query", "/Create \\Crontopus\\ops.db-backup", "/Create \\Crontopus\\ops.rotate-logs", "/Query"]);
  });

  test("reports drift when Task Scheduler does not hold what was written", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    // As if another agent version, or a group policy, rewrote the task.
    fake.store = (xml) => xml.replace(/(crontopus:job \S+ )[0-9a-f]{16}/, "$10000000000000000");

    const [result] = await tasks.apply([BACKUP]);

    expect(result!.state).toBe("drifted");
    expect(result!.message).toContain(`but Task Scheduler holds marker ${BACKUP.jobId} 0000000000000000, expected hash`);
  });

  test("reports drift when the task is missing after /Create (wine keeps nothing it can list)", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    fake.store = () => null;

    const [result] = await tasks.apply([BACKUP]);

    expect(result).toEqual({
      jobId: BACKUP.jobId,
      state: "drifted",
      message: "created \\Crontopus\\ops.db-backup, but Task Scheduler lists no such task afterwards",
    });
  });

  test("deletes the tasks of jobs no longer wanted, and only Crontopus's own", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    await tasks.apply([BACKUP, ROTATE, INVOICES]);
    fake.calls.length = 0;

    const results = await tasks.apply([BACKUP]);

    expect(results).toEqual([
      { jobId: BACKUP.jobId, state: "applied", message: "unchanged" },
      { jobId: ROTATE.jobId, state: "applied", message: "deleted \\Crontopus\\ops.rotate-logs" },
      { jobId: INVOICES.jobId, state: "applied", message: "deleted \\Crontopus\\billing.invoices" },
    ]);
    expect(fake.verbs()).toEqual(["/Query", "/Delete \\Crontopus\\ops.rotate-logs", "/Delete \\Crontopus\\billing.invoices", "/Query"]);
    expect([...fake.tasks.values()].map((t) => t.name).sort()).toEqual([
      "\\Crontopus\\hand-made",
      "\\Crontopus\\ops.db-backup",
      "\\Crontopus\\sub\\nested",
      "\\Microsoft\\Windows\\Defrag\\ScheduledDefrag",
    ]);
  });

  test("moves a renamed job to its new task name: create the new one, then delete the old", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    await tasks.apply([BACKUP]);
    fake.calls.length = 0;

    const results = await tasks.apply([{ ...BACKUP, ref: "ops/database-backup" }]);

    expect(fake.verbs()).toEqual(["/Query", "/Create \\Crontopus\\ops.database-backup", "/Delete \\Crontopus\\ops.db-backup", "/Query"]);
    expect(results.map((r) => r.message)).toEqual(["created \\Crontopus\\ops.database-backup", "deleted \\Crontopus\\ops.db-backup"]);
  });

  test("a failing /Create is an error for that job, and leaves its old task in place", async () => {
    const fake = new FakeSchtasks();
    const { tasks, tmpDir } = backend(fake);
    await tasks.apply([BACKUP, ROTATE]);
    fake.calls.length = 0;
    fake.failCreate.add("\\Crontopus\\ops.database-backup");

    // The rename fails: the old task must survive, and the other job is still reconciled.
    const results = await tasks.apply([{ ...BACKUP, ref: "ops/database-backup" }, { ...ROTATE, schedule: "30 5 * * 0" }]);

    expect(results[0]).toEqual({
      jobId: BACKUP.jobId,
      state: "error",
      message: "schtasks /Create \\Crontopus\\ops.database-backup failed (exit 1): ERROR: Access is denied.",
    });
    expect(results[1]!.state).toBe("applied");
    expect(fake.verbs()).toEqual(["/Query", "/Create \\Crontopus\\ops.database-backup", "/Create \\Crontopus\\ops.rotate-logs", "/Query"]);
    expect(fake.tasks.has("\\crontopus\\ops.db-backup")).toBe(true);
    expect(readdirSync(tmpDir)).toEqual([]);
  });

  test("a /Create that hangs is killed at the time limit and reported as an error for that job only", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    fake.hang = (argv) => argv[1] === "/Create" && argv[3] === "\\Crontopus\\ops.db-backup";

    const results = await tasks.apply([BACKUP, ROTATE]);

    expect(results[0]!.state).toBe("error");
    expect(results[0]!.message).toContain("did not finish within 5000ms and was killed");
    expect(results[1]).toEqual({ jobId: ROTATE.jobId, state: "applied", message: "created \\Crontopus\\ops.rotate-logs" });
  });

  test("a /Query that hangs fails the whole apply: without the current tasks nothing can be deleted safely", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    fake.hang = (argv) => argv[1] === "/Query";

    await expect(tasks.apply([BACKUP])).rejects.toThrow("schtasks /Query: schtasks /Query /XML ONE did not finish within 5000ms");
    expect(fake.verbs()).toEqual(["/Query"]);
  });

  test("a job whose command cannot be written is an error, and its old task stays", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    await tasks.apply([BACKUP]);

    const [result] = await tasks.apply([{ ...BACKUP, command: [EXE, "bell\u0007"] }]);

    expect(result).toEqual({ jobId: BACKUP.jobId, state: "error", message: "command[1]: contains U+0007, which a task definition cannot hold" });
    expect(fake.tasks.has("\\crontopus\\ops.db-backup")).toBe(true);
  });

  test("two jobs that map to one task name are both errors", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    const results = await tasks.apply([BACKUP, { ...ROTATE, ref: "ops/db-backup" }]);
    expect(results.map((r) => r.state)).toEqual(["error", "error"]);
    expect(fake.verbs()).toEqual(["/Query"]);
  });

  test("uninstall deletes every Crontopus task and nothing else", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    await tasks.apply([BACKUP, ROTATE]);

    await tasks.uninstall();

    expect([...fake.tasks.values()].map((t) => t.name).sort()).toEqual([
      "\\Crontopus\\hand-made",
      "\\Crontopus\\sub\\nested",
      "\\Microsoft\\Windows\\Defrag\\ScheduledDefrag",
    ]);
  });

  test("uninstall reports the deletions that failed", async () => {
    const fake = new FakeSchtasks();
    const { tasks } = backend(fake);
    await tasks.apply([BACKUP]);
    fake.hang = (argv) => argv[1] === "/Delete";
    await expect(tasks.uninstall()).rejects.toThrow("schtasks /Delete \\Crontopus\\ops.db-backup: schtasks /Delete");
  });

  test("works in another folder", async () => {
    const fake = new FakeSchtasks();
    const tmpDir = mkdtempSync(join(tmpdir(), "crontopus-schtasks-"));
    const tasks = new TaskSchedulerBackend(fake, { tmpDir, host: NEW_YORK, folder: "Acme\\Jobs" });
    await tasks.apply([BACKUP]);
    expect((await tasks.list()).map((t) => t.name)).toEqual(["\\Acme\\Jobs\\ops.db-backup"]);
  });
});

// ---------------------------------------------------------------------------------------

describe("systemRunner", () => {
  test("passes input and returns the exit code and output", async () => {
    const r = await systemRunner.run(["sh", "-c", "cat; echo oops >&2; exit 3"], { input: new TextEncoder().encode("hello"), timeoutMs: 5_000 });
    expect(r).toEqual({ code: 3, stdout: "hello", stderr: "oops\n" });
  });

  test("kills a command that runs past its time limit, children included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crontopus-runner-"));
    const pidFile = join(dir, "pid");
    const started = performance.now();
    const run = systemRunner.run(["sh", "-c", `sleep 30 & echo $! > ${pidFile}; wait`], { timeoutMs: 300 });
    await expect(run).rejects.toBeInstanceOf(CommandTimeout);
    expect(performance.now() - started).toBeLessThan(5_000);
    const child = Number(readFileSync(pidFile, "utf8"));
    await Bun.sleep(100);
    expect(running(child)).toBe(false);
  });
});

/** Whether a process runs; a killed child that nobody has reaped yet (a zombie) does not. */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]![0] !== "Z";
  } catch {
    return false;
  }
}
