import { describe, expect, test } from "bun:test";
import { CronExpressionParser } from "cron-parser";
import { invalid } from "../../test/thrown";
import {
  describeSchedule,
  formatDuration,
  formatInZone,
  nextRun,
  nextRuns,
  parseDuration,
  parseSchedule,
  validateTimezone,
  type Schedule,
} from "./schedule";

const at = (iso: string) => Date.parse(iso);

/** The next n runs of `expr` after `from`, written in the schedule's zone. */
function runs(expr: string, tz: string, from: string, n: number): string[] {
  return nextRuns(parseSchedule("schedule", expr, tz), tz, at(from), n).map((t) => formatInZone(t, tz));
}


describe("parseDuration", () => {
  test.each([
    [90, 90],
    ["90", 90],
    ["0", 0],
    ["30s", 30],
    ["5m", 300],
    ["1h", 3600],
    ["1h30m", 5400],
    ["2d", 172800],
    ["1d12h", 129600],
    ["1d2h3m4s", 93784],
    [" 1h 30m ", 5400],
    ["90M", 5400],
    ["366d", 366 * 86400],
  ] as const)("reads %p as %p seconds", (input, seconds) => {
    expect(parseDuration("grace", input)).toBe(seconds);
  });

  test.each([
    [-1, "must not be negative"],
    ["-5m", "must not be negative"],
    ["", "is empty"],
    ["   ", "is empty"],
    ["soon", "is not a duration"],
    ["5x", "is not a duration"],
    ["30m1h", "in that order"],
    ["1h1h", "is not a duration"],
    ["1.5h", "fractions are not supported"],
    ["500ms", "sub-second durations are not supported"],
    [1.5, "expected whole seconds"],
    [Number.NaN, "expected whole seconds"],
    [Number.POSITIVE_INFINITY, "expected whole seconds"],
    ["367d", "too long"],
    [366 * 86400 + 1, "too long"],
    ["99999999999999999999", "too long"],
  ] as const)("rejects %p (%s)", (input, problem) => {
    const e = invalid(() => parseDuration("spec.grace", input));
    expect(e.field).toBe("spec.grace");
    expect(e.message).toContain(problem);
  });

  test("names the accepted forms when it rejects garbage", () => {
    expect(invalid(() => parseDuration("timeout", "soon")).message).toBe(
      'timeout: "soon" is not a duration; use a number of seconds (90) or a duration such as 30s, 5m, 1h30m, 2d or 1d12h (units d, h, m, s in that order)',
    );
  });

  test("rejects values that are neither numbers nor strings", () => {
    expect(invalid(() => parseDuration("grace", true as unknown as string)).message).toContain("got true");
  });
});

describe("formatDuration", () => {
  test.each([
    [0, "0s"],
    [45, "45s"],
    [60, "1m"],
    [5400, "1h30m"],
    [172800, "2d"],
    [129600, "1d12h"],
    [90061, "1d1h1m1s"],
  ])("writes %p seconds as %p", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  test("round-trips through parseDuration", () => {
    for (let s = 0; s < 400_000; s += 997) expect(parseDuration("x", formatDuration(s))).toBe(s);
  });
});

describe("validateTimezone", () => {
  test.each([
    ["UTC", "UTC"],
    ["utc", "UTC"],
    ["America/New_York", "America/New_York"],
    ["america/new_york", "America/New_York"],
    ["Europe/Berlin", "Europe/Berlin"],
    ["Asia/Kolkata", "Asia/Kolkata"],
    ["Etc/GMT+5", "Etc/GMT+5"],
  ])("accepts %p as %p", (input, canonical) => {
    expect(validateTimezone("timezone", input)).toBe(canonical);
  });

  test("rejects an unknown zone, naming it", () => {
    const e = invalid(() => validateTimezone("spec.timezone", "Mars/Olympus"));
    expect(e.field).toBe("spec.timezone");
    expect(e.message).toContain('unknown time zone "Mars/Olympus"');
  });

  test("rejects a UTC offset, which cannot follow daylight saving time", () => {
    expect(invalid(() => validateTimezone("timezone", "+05:00")).message).toContain("is a UTC offset");
  });

  test("rejects an empty zone", () => {
    expect(invalid(() => validateTimezone("timezone", "")).message).toContain("expected an IANA time zone name");
  });
});

describe("parseSchedule accepts classic cron", () => {
  test.each([
    ["0 2 * * *", "0 2 * * *"],
    ["  */15   9-17 *\t* 1-5 ", "*/15 9-17 * * 1-5"],
    ["0 0 1,15 * *", "0 0 1,15 * *"],
    ["0 0 * JAN-MAR MON-FRI", "0 0 * JAN-MAR MON-FRI"],
    ["0 0 * jan,jul sun", "0 0 * jan,jul sun"],
    ["0 0 * * 7", "0 0 * * 7"],
    ["0 0 * * 0", "0 0 * * 0"],
    ["0 0 * * 5-7", "0 0 * * 5-7"],
    ["0-30/10 */2 1-31/2 */3 1-5/2", "0-30/10 */2 1-31/2 */3 1-5/2"],
    ["*/5,1 * * * *", "*/5,1 * * * *"],
    ["00 01 * * *", "00 01 * * *"],
    ["0 0 29 2 *", "0 0 29 2 *"],
    ["0 0 30 2 MON", "0 0 30 2 MON"],
  ])("%p", (input, expr) => {
    expect(parseSchedule("schedule", input, "UTC")).toEqual({ kind: "cron", expr });
  });

  test.each(["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"])("the macro %p", (m) => {
    expect(parseSchedule("schedule", m, "UTC")).toEqual({ kind: "cron", expr: m });
  });

  test("writes macros in lower case", () => {
    expect(parseSchedule("schedule", " @DAILY ", "UTC")).toEqual({ kind: "cron", expr: "@daily" });
  });
});

describe("parseSchedule accepts @every", () => {
  test.each([
    ["@every 5m", 300, "@every 5m"],
    ["@every 300", 300, "@every 5m"],
    ["@every 90s", 90, "@every 1m30s"],
    ["@every 1h 30m", 5400, "@every 1h30m"],
    ["@EVERY 1s", 1, "@every 1s"],
    ["@every 2d", 172800, "@every 2d"],
  ])("%p is every %p seconds", (input, seconds, expr) => {
    expect(parseSchedule("schedule", input, "UTC")).toEqual({ kind: "every", seconds, expr });
  });

  test.each([
    ["@every", "@every needs a duration"],
    ["@every 0s", "at least 1s"],
    ["@every 500ms", "sub-second durations are not supported"],
    ["@every 400d", "too long"],
    ["@every soon", "is not a duration"],
  ])("rejects %p", (input, problem) => {
    expect(invalid(() => parseSchedule("schedule", input, "UTC")).message).toContain(problem);
  });
});

describe("parseSchedule rejects", () => {
  function reject(expr: string): string {
    const e = invalid(() => parseSchedule("spec.schedule", expr, "UTC"));
    expect(e.field).toBe("spec.schedule");
    return e.message;
  }

  test("a seconds field, saying how many fields it got", () => {
    expect(reject("0 0 2 * * *")).toBe(
      "spec.schedule: expected 5 fields (minute hour day-of-month month day-of-week), got 6; a seconds field is not supported (classic cron runs at most once a minute)",
    );
  });

  test("a Quartz expression with seconds and years", () => {
    expect(reject("0 0 12 * * ? 2026")).toContain("got 7; seconds and year fields are not supported");
  });

  test("a crontab line with its command, pointing at the command field", () => {
    expect(reject("0 5 * * * /usr/local/bin/backup --full")).toContain("put the command in the command field");
  });

  test.each(["*", "* * * *", "0 0"])("too few fields: %p", (expr) => {
    expect(reject(expr)).toContain(`got ${expr.split(" ").length}`);
  });

  test("an empty schedule", () => {
    expect(reject("  ")).toContain("is empty");
  });

  test("@reboot, which has no time to monitor", () => {
    expect(reject("@reboot")).toBe("spec.schedule: @reboot has no schedule the server can monitor; use a time-based schedule such as @daily");
  });

  test("unknown macros, listing the known ones", () => {
    expect(reject("@fortnightly")).toContain("unknown macro @fortnightly; use @hourly, @daily");
  });

  test("text after a macro", () => {
    expect(reject("@daily /usr/bin/backup")).toContain('unexpected "/usr/bin/backup" after @daily');
  });

  test.each([
    ["60 * * * *", 'minute "60": 60 is out of range (0-59)'],
    ["0 24 * * *", 'hour "24": 24 is out of range (0-23)'],
    ["0 0 0 * *", 'day-of-month "0": 0 is out of range (1-31)'],
    ["0 0 32 * *", 'day-of-month "32": 32 is out of range (1-31)'],
    ["0 0 * 13 *", 'month "13": 13 is out of range (1-12)'],
    ["0 0 * * 8", 'day-of-week "8": 8 is out of range (0-7)'],
    ["0 0 * 0 *", 'month "0": 0 is out of range (1-12)'],
  ])("out-of-range value %p", (expr, message) => {
    expect(reject(expr)).toBe(`spec.schedule: ${message}`);
  });

  // cron-parser accepts all of these; real crontabs do not.
  test.each([
    ["0 0 L * *", '"L" (last day) is not classic cron syntax'],
    ["0 0 * * 5L", '"L" (last day)'],
    ["0 0 * * 5#2", '"#" (nth weekday of the month) is not classic cron syntax'],
    ["H * * * *", '"H" (Jenkins\' hashed value)'],
    ["H(0-29) * * * *", '"H" (Jenkins\' hashed value)'],
    ["0 0 15W * *", '"W" (nearest weekday)'],
    ["0 0 LW * *", '"L" (last day)'],
    ["0 0 ? * MON", '"?" (Quartz\'s "no specific value")'],
  ])("the non-classic extension in %p", (expr, message) => {
    const text = reject(expr);
    expect(text).toContain(message);
    expect(text).toContain("allowed: numbers, *, ranges (1-5), steps (*/15, 0-30/5), lists (1,15,30) and names (JAN-DEC, SUN-SAT)");
  });

  test.each([
    ["5/10 * * * *", "a step needs a range or *: write 5-59/10 or */10, not 5/10"],
    ["*/0 * * * *", "a step must be at least 1"],
    ["*/60 * * * *", "step 60 is larger than the field's range (0-59)"],
    ["0 */24 * * *", "step 24 is larger"],
    ["5-1 * * * *", "range 5-1 runs backwards; split it, e.g. 5-59,0-1"],
    ["0 0 * * FRI-MON", "range FRI-MON runs backwards; write 5-7,1"],
    ["0 0 * * SAT-TUE", "range SAT-TUE runs backwards; write 6-7,1-2"],
    ["0 0 * * MON-SUN", "range MON-SUN runs backwards; write 1-7 (7 is also Sunday)"],
    ["0 0 * DEC-JAN *", "range DEC-JAN runs backwards"],
    ["0 0 * * Monday", '"Monday" is not a day name; use the first three letters (SUN-SAT)'],
    ["0 0 * Sept *", '"Sept" is not a month name; use the first three letters (JAN-DEC)'],
    ["0 MON * * *", "names are only allowed in the month and day-of-week fields"],
    ["0 0 * * 1,,2", "empty item in a list"],
    ["0 0 * * 1,", "empty item in a list"],
    ["*,5 * * * *", "* cannot be combined with other values in a list"],
    ["1-5-7 * * * *", '"1-5-7" is not valid'],
    ["*/5/2 * * * *", '"*/5/2" is not valid'],
    ["0 0 * * -1", '"-1" is not valid'],
  ])("the malformed field in %p", (expr, message) => {
    expect(reject(expr)).toContain(message);
  });

  test("a day of the month that the chosen months never have", () => {
    expect(reject("0 0 30 2 *")).toBe('spec.schedule: day-of-month "30" never occurs in FEB, so the job would never run');
    expect(reject("0 0 31 4,6,9,11 *")).toContain("never occurs in APR,JUN,SEP,NOV");
  });

  test("a value that is not a string", () => {
    expect(reject(5 as unknown as string)).toContain("expected a cron expression, got a number");
  });
});

describe("nextRuns for cron", () => {
  test("returns run times strictly after `after`", () => {
    expect(runs("0 * * * *", "UTC", "2026-01-01T10:00:00Z", 2)).toEqual(["2026-01-01T11:00:00+00:00", "2026-01-01T12:00:00+00:00"]);
    expect(runs("0 * * * *", "UTC", "2026-01-01T09:59:59.999Z", 1)).toEqual(["2026-01-01T10:00:00+00:00"]);
  });

  test("returns nothing when asked for nothing", () => {
    expect(nextRuns(parseSchedule("s", "* * * * *", "UTC"), "UTC", 0, 0)).toEqual([]);
  });

  test("reads the schedule in its own time zone", () => {
    expect(runs("0 2 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", 2)).toEqual([
      "2026-01-02T02:00:00+05:30",
      "2026-01-03T02:00:00+05:30",
    ]);
  });

  test("treats 0 and 7 as Sunday", () => {
    const sundays = ["2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"];
    expect(runs("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", 2)).toEqual(sundays);
    expect(runs("0 0 * * 0", "UTC", "2026-01-01T00:00:00Z", 2)).toEqual(sundays);
    expect(runs("0 0 * * SUN", "UTC", "2026-01-01T00:00:00Z", 2)).toEqual(sundays);
  });

  test("runs a leap-day job only in leap years", () => {
    expect(runs("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 2)).toEqual(["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]);
  });

  test("runs every macro at its classic time", () => {
    const from = "2026-01-07T12:00:00Z"; // a Wednesday
    expect(runs("@hourly", "UTC", from, 1)).toEqual(["2026-01-07T13:00:00+00:00"]);
    expect(runs("@daily", "UTC", from, 1)).toEqual(["2026-01-08T00:00:00+00:00"]);
    expect(runs("@midnight", "UTC", from, 1)).toEqual(["2026-01-08T00:00:00+00:00"]);
    expect(runs("@weekly", "UTC", from, 1)).toEqual(["2026-01-11T00:00:00+00:00"]);
    expect(runs("@monthly", "UTC", from, 1)).toEqual(["2026-02-01T00:00:00+00:00"]);
    expect(runs("@yearly", "UTC", from, 1)).toEqual(["2027-01-01T00:00:00+00:00"]);
    expect(runs("@annually", "UTC", from, 1)).toEqual(["2027-01-01T00:00:00+00:00"]);
  });

  describe("combines day-of-month and day-of-week as Vixie cron does", () => {
    test("with OR when both are restricted", () => {
      // The 1st and the 15th, plus every Friday.
      expect(runs("0 0 1,15 * FRI", "UTC", "2026-01-01T00:00:00Z", 5)).toEqual([
        "2026-01-02T00:00:00+00:00",
        "2026-01-09T00:00:00+00:00",
        "2026-01-15T00:00:00+00:00",
        "2026-01-16T00:00:00+00:00",
        "2026-01-23T00:00:00+00:00",
      ]);
    });

    test("with AND when day-of-month starts with *: odd-numbered Mondays", () => {
      expect(runs("0 0 */2 * MON", "UTC", "2026-01-01T00:00:00Z", 4)).toEqual([
        "2026-01-05T00:00:00+00:00",
        "2026-01-19T00:00:00+00:00",
        "2026-02-09T00:00:00+00:00",
        "2026-02-23T00:00:00+00:00",
      ]);
    });

    test("with AND when day-of-week starts with *: the 1st, on Sundays, Tuesdays, Thursdays and Saturdays", () => {
      // 1 Jan 2026 is a Thursday; 1 Feb and 1 Mar are Sundays, 1 Aug a Saturday.
      expect(runs("0 0 1 * */2", "UTC", "2026-01-01T00:00:00Z", 3)).toEqual([
        "2026-02-01T00:00:00+00:00",
        "2026-03-01T00:00:00+00:00",
        "2026-08-01T00:00:00+00:00",
      ]);
    });

    test("with OR when a restricted field happens to cover every day", () => {
      // 1-31 is not "*": Vixie ORs it with Monday, so this runs daily.
      expect(runs("0 0 1-31 * MON", "UTC", "2026-01-01T00:00:00Z", 3)).toEqual([
        "2026-01-02T00:00:00+00:00",
        "2026-01-03T00:00:00+00:00",
        "2026-01-04T00:00:00+00:00",
      ]);
    });
  });

  // cron-parser agrees with Vixie whenever neither day field starts with "*" unless it is
  // exactly "*", and no DST change is involved: compare on random expressions.
  test("agrees with cron-parser on 400 random expressions in zones without DST", () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const field = (min: number, max: number, names?: string[]): string => {
      const value = () => {
        const v = min + rand(max - min + 1);
        return names && rand(3) === 0 && names[v] ? names[v]! : String(v);
      };
      const item = (): string => {
        switch (rand(5)) {
          case 0:
            return value();
          case 1: {
            const a = min + rand(max - min + 1);
            const b = a + rand(max - a + 1);
            return `${a}-${b}`;
          }
          case 2: {
            const a = min + rand(max - min + 1);
            const b = a + rand(max - a + 1);
            return `${a}-${b}/${1 + rand(Math.max(1, max - min))}`;
          }
          default:
            return value();
        }
      };
      if (rand(4) === 0) return "*";
      if (rand(6) === 0) return `*/${1 + rand(max - min)}`;
      return Array.from({ length: 1 + rand(3) }, item).join(",");
    };
    const months = ["", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    const days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let compared = 0;
    while (compared < 400) {
      let dom = field(1, 31);
      let dow = field(0, 7, days);
      // Stay where cron-parser and Vixie agree on combining the day fields.
      if (dom.startsWith("*") && dom !== "*") dom = "*";
      if (dow.startsWith("*") && dow !== "*") dow = "*";
      const expr = `${field(0, 59)} ${field(0, 23)} ${dom} ${field(1, 12, months)} ${dow}`;
      let schedule: Schedule;
      try {
        schedule = parseSchedule("schedule", expr, "UTC");
      } catch {
        continue; // e.g. "0 0 31 2 *"
      }
      const tz = ["UTC", "Asia/Tokyo", "Asia/Kolkata"][rand(3)]!;
      const after = at("2026-01-01T00:00:00Z") + rand(3 * 365) * 86_400_000 + rand(86_400) * 1000;
      let oracle: number[];
      try {
        oracle = CronExpressionParser.parse(expr, { tz, currentDate: new Date(after) })
          .take(8)
          .map((d) => d.getTime());
      } catch {
        continue; // cron-parser rejects repeated values ("5,5", "1-10,5") that cron accepts
      }
      expect({ expr, tz, runs: nextRuns(schedule, tz, after, 8) }).toEqual({ expr, tz, runs: oracle });
      compared++;
    }
  });
});

describe("nextRuns across daylight saving time", () => {
  describe("America/New_York (clocks go 02:00 -> 03:00 on 8 Mar 2026, 02:00 -> 01:00 on 1 Nov 2026)", () => {
    const tz = "America/New_York";

    test("a fixed-time job inside the spring gap runs once, right after the jump", () => {
      expect(runs("30 2 * * *", tz, "2026-03-07T12:00:00Z", 3)).toEqual([
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
      ]);
    });

    test("several fixed times swallowed by the gap run once, together with the first time after it", () => {
      expect(runs("0,30 2,3 * * *", tz, "2026-03-08T00:00:00Z", 2)).toEqual(["2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"]);
    });

    test("a fixed-time job in the repeated hour runs once, at the first 01:30", () => {
      expect(runs("30 1 * * *", tz, "2026-10-31T12:00:00Z", 2)).toEqual(["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]);
    });

    test("a fixed-time job does not run again at the second 01:30", () => {
      // 05:45Z is 01:45 EDT, between the two 01:30s.
      expect(runs("30 1 * * *", tz, "2026-11-01T05:45:00Z", 1)).toEqual(["2026-11-02T01:30:00-05:00"]);
    });

    test("an hourly job runs on the new clock: no 02:00 in spring", () => {
      expect(runs("0 * * * *", tz, "2026-03-08T05:30:00Z", 3)).toEqual([
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
      ]);
    });

    test("an hourly job runs on the new clock: two 01:00s in autumn", () => {
      expect(runs("@hourly", tz, "2026-11-01T04:30:00Z", 3)).toEqual([
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
      ]);
    });

    test("a job with * in the minute field is skipped in the gap", () => {
      expect(runs("*/30 2 * * *", tz, "2026-03-08T04:00:00Z", 1)).toEqual(["2026-03-09T02:00:00-04:00"]);
    });

    test("a job with * in the minute field runs in both copies of the repeated hour", () => {
      expect(runs("*/30 1 * * *", tz, "2026-11-01T04:00:00Z", 5)).toEqual([
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-02T01:00:00-05:00",
      ]);
    });

    test("nextRun from inside the repeated hour finds the second copy for a wildcard job", () => {
      const s = parseSchedule("s", "*/30 1 * * *", tz);
      expect(formatInZone(nextRun(s, tz, at("2026-11-01T05:45:00Z")), tz)).toBe("2026-11-01T01:00:00-05:00");
    });

    test("@daily at midnight is untouched by a 02:00 change", () => {
      expect(runs("@daily", tz, "2026-03-07T12:00:00Z", 2)).toEqual(["2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00"]);
    });
  });

  describe("Europe/Berlin (02:00 -> 03:00 on 29 Mar 2026, 03:00 -> 02:00 on 25 Oct 2026)", () => {
    const tz = "Europe/Berlin";

    test("a job at 02:30 runs at 03:00 on the spring-forward day", () => {
      expect(runs("30 2 * * *", tz, "2026-03-28T12:00:00Z", 2)).toEqual(["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]);
    });

    test("a job at 02:30 runs once on the fall-back day", () => {
      expect(runs("30 2 * * *", tz, "2026-10-24T12:00:00Z", 2)).toEqual(["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]);
    });

    test("an every-15-minutes job keeps a steady 15-minute rhythm through both changes", () => {
      const spring = nextRuns(parseSchedule("s", "*/15 * * * *", tz), tz, at("2026-03-29T00:00:00Z"), 8);
      const autumn = nextRuns(parseSchedule("s", "*/15 * * * *", tz), tz, at("2026-10-25T00:00:00Z"), 8);
      for (const list of [spring, autumn]) {
        expect(list.slice(1).map((t, i) => t - list[i]!)).toEqual(Array(7).fill(15 * 60_000));
      }
    });
  });

  test("a 30-minute DST change (Australia/Lord_Howe) moves a swallowed job to the end of the gap", () => {
    expect(runs("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", 2)).toEqual([
      "2026-10-04T02:30:00+11:00",
      "2026-10-05T02:15:00+11:00",
    ]);
  });
});

describe("nextRuns for @every", () => {
  const every5m = parseSchedule("s", "@every 5m", "UTC");

  test("counts from `after` when there is no anchor", () => {
    expect(nextRuns(every5m, "UTC", 1_000_000, 3)).toEqual([1_300_000, 1_600_000, 1_900_000]);
  });

  test("keeps to the anchor's rhythm", () => {
    // Anchored at 0: runs at 0, 300s, 600s, ...; after 1,000s the next is 1,200s.
    expect(nextRuns(every5m, "UTC", 1_000_000, 2, 0)).toEqual([1_200_000, 1_500_000]);
  });

  test("is strictly after `after` when `after` is a run time", () => {
    expect(nextRuns(every5m, "UTC", 600_000, 1, 0)).toEqual([900_000]);
  });

  test("starts at a future anchor", () => {
    expect(nextRuns(every5m, "UTC", 0, 2, 1_000_000)).toEqual([100_000, 400_000]);
    expect(nextRun(every5m, "UTC", 999_999, 1_000_000)).toBe(1_000_000);
  });

  test("ignores the time zone", () => {
    expect(nextRuns(every5m, "America/New_York", 0, 2, 0)).toEqual(nextRuns(every5m, "UTC", 0, 2, 0));
  });
});

describe("nextRun", () => {
  test("is the first of nextRuns", () => {
    const s = parseSchedule("s", "17 3 * * 1-5", "Europe/Berlin");
    const after = at("2026-05-01T12:00:00Z");
    expect(nextRun(s, "Europe/Berlin", after)).toBe(nextRuns(s, "Europe/Berlin", after, 3)[0]!);
  });

  test("works on a schedule read back from storage without parseSchedule in this process", () => {
    const stored: Schedule = { kind: "cron", expr: "41 7 * * *" };
    expect(formatInZone(nextRun(stored, "UTC", at("2026-01-01T00:00:00Z")), "UTC")).toBe("2026-01-01T07:41:00+00:00");
  });

  test("stays correct after more distinct schedules than its cache holds", () => {
    for (let i = 0; i < 1500; i++) parseSchedule("s", `${i % 60} ${Math.floor(i / 60) % 24} * * *`, "UTC");
    const s: Schedule = { kind: "cron", expr: "0 0 * * *" };
    expect(nextRun(s, "UTC", at("2026-01-01T12:00:00Z"))).toBe(at("2026-01-02T00:00:00Z"));
  });

  test("is cheap enough for a hot path (10,000 calls well under a second)", () => {
    const s = parseSchedule("s", "*/5 * * * *", "Europe/Berlin");
    const start = performance.now();
    let last = 0;
    for (let i = 0; i < 10_000; i++) last = nextRun(s, "Europe/Berlin", at("2026-01-01T00:00:00Z") + i * 7_919);
    expect(last).toBeGreaterThan(0);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe("describeSchedule", () => {
  const describe_ = (expr: string, tz = "UTC") => describeSchedule(parseSchedule("s", expr, tz), tz);

  test.each([
    ["0 2 * * *", "At 02:00"],
    ["30 14 * * *", "At 14:30"],
    ["15 * * * *", "At 15 minutes past the hour"],
    ["*/5 * * * *", "Every 5 minutes"],
    ["@hourly", "Every hour"],
    ["@daily", "At 00:00"],
    ["@weekly", "At 00:00, only on Sunday"],
    ["@monthly", "At 00:00, on day 1 of the month"],
    ["0 0 * * 0,7", "At 00:00, only on Sunday"],
    ["0 0 * * 5-7", "At 00:00, Friday through Sunday"],
    ["0 9 * * MON-FRI", "At 09:00, Monday through Friday"],
    ["0 0 1 * 0-6", "At 00:00"],
  ])("%p reads %p", (expr, text) => {
    expect(describe_(expr)).toBe(text);
  });

  test("names the time zone when it is not UTC", () => {
    expect(describe_("0 2 * * *", "Europe/Berlin")).toBe("At 02:00 (Europe/Berlin)");
  });

  test("says when both day fields must match (Vixie's * rule)", () => {
    expect(describe_("0 0 */2 * MON")).toEndWith("(only when the day of the month and the day of the week both match)");
  });

  test.each([
    ["@every 5m", "Every 5 minutes"],
    ["@every 1m", "Every minute"],
    ["@every 90s", "Every 90 seconds"],
    ["@every 1h30m", "Every 90 minutes"],
    ["@every 2h", "Every 2 hours"],
    ["@every 1d", "Every day"],
    ["@every 1d1s", "Every 1d1s"],
    ["@every 3h1s", "Every 3h1s"],
  ])("%p reads %p, without a time zone", (expr, text) => {
    expect(describe_(expr, "Europe/Berlin")).toBe(text);
  });
});

describe("formatInZone", () => {
  test.each([
    ["2026-01-01T00:00:00Z", "UTC", "2026-01-01T00:00:00+00:00"],
    ["2026-03-08T07:00:00Z", "America/New_York", "2026-03-08T03:00:00-04:00"],
    ["2026-03-08T06:59:59Z", "America/New_York", "2026-03-08T01:59:59-05:00"],
    ["2026-07-01T12:00:00Z", "Asia/Kolkata", "2026-07-01T17:30:00+05:30"],
    ["2026-07-01T12:00:00Z", "Asia/Kathmandu", "2026-07-01T17:45:00+05:45"],
    ["2026-01-15T12:00:00Z", "America/St_Johns", "2026-01-15T08:30:00-03:30"],
    ["2026-12-31T23:59:59.999Z", "UTC", "2026-12-31T23:59:59+00:00"],
  ])("writes %p in %p as %p", (iso, tz, text) => {
    expect(formatInZone(at(iso), tz)).toBe(text);
  });
});
