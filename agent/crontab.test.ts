import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Invalid } from "../src/errors";
import { nextRuns, parseSchedule } from "../src/jobs/schedule";
import {
  discover,
  escapeCommand,
  formatLine,
  lineKind,
  MAX_COMMAND_BYTES,
  MAX_CRONTAB_LINES,
  parseEnvLine,
  reconcile,
  uninstall,
  type CronFlavor,
  type DesiredEntry,
  type HostCron,
} from "./crontab";
import { hostSchedule, isDue } from "./hostschedule";

// Alice runs the agent on two servers: "backup-1", a Debian box on UTC (Vixie cron), and
// "web-1", a Fedora box on UTC (cronie). Her crontabs already hold her own lines.
const DEBIAN_UTC: HostCron = { timezone: "UTC", supportsCronTz: false, flavor: "debian" };
const CRONIE_UTC: HostCron = { timezone: "UTC", supportsCronTz: true, flavor: "cronie" };

const BACKUP_ID = "0192f0c4-7d1e-7c3a-9a51-3f8e2b6d9c10";
const CLEANUP_ID = "0192f0c5-1111-7222-8333-444455556666";
const REPORT_ID = "0192f0c6-aaaa-7bbb-8ccc-dddddddddddd";

function exec(id: string, rest: string): string {
  return `/usr/local/bin/crontopus exec --job ${id} -- ${rest}`;
}

const backup: DesiredEntry = {
  jobId: BACKUP_ID,
  ref: "ops/nightly-backup",
  schedule: "0 2 * * *",
  timezone: "UTC",
  command: exec(BACKUP_ID, "/opt/backup.sh --full"),
  paused: false,
};
const cleanup: DesiredEntry = {
  jobId: CLEANUP_ID,
  ref: "web/cleanup",
  schedule: "*/15 * * * *",
  timezone: "UTC",
  command: exec(CLEANUP_ID, "/opt/cleanup.sh"),
  paused: false,
};
const report: DesiredEntry = {
  jobId: REPORT_ID,
  ref: "finance/report",
  schedule: "30 6 * * MON-FRI",
  timezone: "UTC",
  command: exec(REPORT_ID, "/opt/report.sh"),
  paused: false,
};

const ALICE_CRONTAB = [
  "# m h  dom mon dow   command",
  "MAILTO=alice@example.com",
  "0 5 * * * /usr/bin/nightly-report",
  "",
].join("\n");

function isBeginLine(line: string): boolean {
  return line.startsWith("# crontopus:begin -- ");
}

function lines(text: string): string[] {
  return text.split("\n");
}

function managedPart(text: string): string[] {
  const all = lines(text);
  return all.slice(all.findIndex(isBeginLine));
}

function entryLineOf(text: string, jobId: string): string {
  const all = lines(text);
  const i = all.findIndex((l) => l.startsWith(`# crontopus:job ${jobId} `));
  expect(i).toBeGreaterThanOrEqual(0);
  return all[i + 1]!.startsWith("CRON_TZ=") ? all[i + 2]! : all[i + 1]!;
}

/** What cron hands to the shell for a command as written in a crontab (do_command.c of each cron). */
function cronReads(written: string, flavor: CronFlavor): { command: string; stdin: boolean } {
  let out = "";
  let escaped = false;
  for (const ch of written) {
    if (escaped) {
      escaped = false;
      // The backslash already copied is overwritten by the escaped character.
      if (ch === "%" || (flavor === "debian" && ch === "\\")) out = out.slice(0, -1) + ch;
      else out += ch;
      continue;
    }
    if (ch === "\\") escaped = true;
    else if (ch === "%") return { command: out, stdin: true };
    out += ch;
  }
  return { command: out, stdin: false };
}

// ---------------------------------------------------------------------------------------

describe("the managed section", () => {
  test("is appended after the user's lines, in the documented format", () => {
    const r = reconcile(ALICE_CRONTAB, [backup, cleanup], DEBIAN_UTC);
    expect(r.text).toBe(
      [
        "# m h  dom mon dow   command",
        "MAILTO=alice@example.com",
        "0 5 * * * /usr/bin/nightly-report",
        "# crontopus:begin -- managed by the Crontopus agent: lines down to crontopus:end are rewritten on every sync; add yours above this line",
        "SHELL=/bin/sh",
        `# crontopus:job ${BACKUP_ID} 1f71984e2215 ops/nightly-backup`,
        `0 2 * * * /usr/local/bin/crontopus exec --job ${BACKUP_ID} -- /opt/backup.sh --full`,
        `# crontopus:job ${CLEANUP_ID} e0b60082f9ca web/cleanup`,
        `*/15 * * * * /usr/local/bin/crontopus exec --job ${CLEANUP_ID} -- /opt/cleanup.sh`,
        "# crontopus:end jobs=2 digest=e27fc9981500",
        "",
      ].join("\n"),
    );
    expect(r.changed).toBe(true);
    expect(r.results).toEqual([
      { jobId: BACKUP_ID, state: "applied", message: "added" },
      { jobId: CLEANUP_ID, state: "applied", message: "added" },
    ]);
    expect(r.removed).toEqual([]);
  });

  test("sorts blocks by ref, then job id, whatever the order of the desired list", () => {
    const twin = { ...cleanup, jobId: "0000aaaa-0000-7000-8000-000000000000", command: exec("0000aaaa-0000-7000-8000-000000000000", "x") };
    const a = reconcile("", [cleanup, backup, report, twin], DEBIAN_UTC).text;
    const b = reconcile("", [twin, report, backup, cleanup], DEBIAN_UTC).text;
    expect(a).toBe(b);
    const order = lines(a).filter((l) => l.startsWith("# crontopus:job ")).map((l) => {
      const [, , id, , ref] = l.split(" ");
      return `${ref} ${id}`;
    });
    expect(order).toEqual([
      `finance/report ${REPORT_ID}`,
      `ops/nightly-backup ${BACKUP_ID}`,
      `web/cleanup ${twin.jobId}`,
      `web/cleanup ${CLEANUP_ID}`,
    ]);
  });

  test("a second pass changes nothing and reports every job unchanged", () => {
    const first = reconcile(ALICE_CRONTAB, [backup, cleanup, report], CRONIE_UTC);
    const second = reconcile(first.text, [backup, cleanup, report], CRONIE_UTC);
    expect(second.changed).toBe(false);
    expect(second.text).toBe(first.text);
    expect(second.results.map((r) => r.message)).toEqual(["unchanged", "unchanged", "unchanged"]);
  });

  test("leaves the blocks of unchanged jobs byte for byte when another job changes", () => {
    const first = reconcile(ALICE_CRONTAB, [backup, cleanup], DEBIAN_UTC);
    const second = reconcile(first.text, [backup, { ...cleanup, schedule: "*/5 * * * *" }], DEBIAN_UTC);
    const backupBlock = (t: string) => lines(t).filter((l) => l.includes(BACKUP_ID));
    expect(backupBlock(second.text)).toEqual(backupBlock(first.text));
    expect(second.results.map((r) => r.message)).toEqual(["unchanged", "updated"]);
    expect(entryLineOf(second.text, CLEANUP_ID)).toStartWith("*/5 * * * * ");
  });

  test("writes a paused job commented out, still marked, and resumes it", () => {
    const paused = reconcile("", [{ ...backup, paused: true }], DEBIAN_UTC);
    expect(entryLineOf(paused.text, BACKUP_ID)).toBe(`#0 2 * * * ${backup.command}`);
    expect(lineKind(entryLineOf(paused.text, BACKUP_ID))).toBe("comment");
    const resumed = reconcile(paused.text, [backup], DEBIAN_UTC);
    expect(resumed.results[0]).toEqual({ jobId: BACKUP_ID, state: "applied", message: "updated" });
    expect(entryLineOf(resumed.text, BACKUP_ID)).toBe(`0 2 * * * ${backup.command}`);
  });

  test("removes the blocks of jobs no longer desired, and the whole section with the last one", () => {
    const both = reconcile(ALICE_CRONTAB, [backup, cleanup], DEBIAN_UTC);
    const one = reconcile(both.text, [backup], DEBIAN_UTC);
    expect(one.removed).toEqual([CLEANUP_ID]);
    expect(one.text).not.toContain(CLEANUP_ID);
    const none = reconcile(one.text, [], DEBIAN_UTC);
    expect(none.removed).toEqual([BACKUP_ID]);
    expect(none.text).toBe(ALICE_CRONTAB);
  });

  test("leaves a crontab without managed lines untouched when nothing is desired", () => {
    for (const text of ["", "0 5 * * * x", "# only a comment", "\r\n\r\n"]) {
      expect(reconcile(text, [], DEBIAN_UTC)).toEqual({ text, changed: false, results: [], removed: [] });
    }
  });

  test("keeps the user's CRLF lines, tabs, trailing blanks and missing final newline byte for byte", () => {
    const user = "SHELL=/bin/bash\r\n0\t5\t*\t*\t*\t/usr/bin/x   \r\n# note \t\r\n@reboot /usr/bin/y";
    const r = reconcile(user, [backup], DEBIAN_UTC);
    expect(r.text.startsWith("SHELL=/bin/bash\r\n0\t5\t*\t*\t*\t/usr/bin/x   \r\n# note \t\r\n@reboot /usr/bin/y\n# crontopus:begin")).toBe(true);
    expect(managedPart(r.text)[0]).toEndWith("(the agent added the final newline of the line above)");
    // The agent's lines carry no "\r" (cron would pass it to the shell), except the copy of
    // the user's SHELL line, which cron reads exactly as it reads the original.
    expect(managedPart(r.text).filter((l) => l.includes("\r"))).toEqual(["SHELL=/bin/bash\r"]);
    expect(r.text.endsWith("\n")).toBe(true);
    expect(uninstall(r.text)).toBe(user);
  });
});

describe("the environment of managed and user lines", () => {
  test("sets SHELL=/bin/sh for the managed lines and restores the user's SHELL after them", () => {
    const user = "SHELL=/usr/bin/fish\nPATH=/opt/bin\n0 5 * * * x\n";
    const r = reconcile(user, [backup], DEBIAN_UTC);
    expect(managedPart(r.text)).toEqual([
      expect.stringMatching(/^# crontopus:begin /),
      "SHELL=/bin/sh",
      expect.stringMatching(/^# crontopus:job /),
      `0 2 * * * ${backup.command}`,
      "SHELL=/usr/bin/fish",
      expect.stringMatching(/^# crontopus:end /),
      "",
    ]);
  });

  test("writes no SHELL restore line when the user never set SHELL (cron's default is /bin/sh)", () => {
    const r = reconcile(ALICE_CRONTAB, [backup], DEBIAN_UTC);
    expect(managedPart(r.text).filter((l) => l.startsWith("SHELL="))).toEqual(["SHELL=/bin/sh"]);
  });

  test("on cron-tz hosts pins every block's zone and restores the host's zone after the section", () => {
    const r = reconcile(ALICE_CRONTAB, [{ ...backup, timezone: "Europe/Berlin" }, cleanup], CRONIE_UTC);
    expect(managedPart(r.text)).toEqual([
      expect.stringMatching(/^# crontopus:begin /),
      "SHELL=/bin/sh",
      expect.stringMatching(/^# crontopus:job .* ops\/nightly-backup$/),
      "CRON_TZ=Europe/Berlin",
      `0 2 * * * ${backup.command}`,
      expect.stringMatching(/^# crontopus:job .* web\/cleanup$/),
      "CRON_TZ=UTC",
      `*/15 * * * * ${cleanup.command}`,
      "CRON_TZ=UTC",
      expect.stringMatching(/^# crontopus:end /),
      "",
    ]);
  });

  test("restores the user's own CRON_TZ line verbatim, so lines added below keep their zone", () => {
    const user = " CRON_TZ = Asia/Tokyo\r\n0 9 * * * /usr/bin/morning\n";
    const r = reconcile(user, [{ ...backup, timezone: "Europe/Berlin" }], CRONIE_UTC);
    const section = managedPart(r.text);
    expect(section[section.length - 3]).toBe(" CRON_TZ = Asia/Tokyo\r");
    // Bob appends a line below the section with crontab -e; the next pass moves it above,
    // where it still runs in Tokyo time.
    const appended = r.text + "0 10 * * * /usr/bin/later\n";
    expect(envAt(lines(appended), "UTC").at(-2)!.CRON_TZ).toBe("Asia/Tokyo");
    const next = reconcile(appended, [{ ...backup, timezone: "Europe/Berlin" }], CRONIE_UTC);
    const moved = lines(next.text).indexOf("0 10 * * * /usr/bin/later");
    expect(moved).toBe(2);
    expect(envAt(lines(next.text), "UTC")[moved]!.CRON_TZ).toBe("Asia/Tokyo");
  });

  test("never writes CRON_TZ on hosts without it", () => {
    const r = reconcile("CRON_TZ=Asia/Tokyo\n", [{ ...backup, timezone: "Europe/Berlin" }], DEBIAN_UTC);
    expect(managedPart(r.text).some((l) => l.startsWith("CRON_TZ"))).toBe(false);
  });
});

describe("commands", () => {
  test("escapes % so cron does not turn it into a newline", () => {
    const job = { ...backup, command: exec(BACKUP_ID, "tar czf /b/$(date +%F).tgz /srv") };
    const line = entryLineOf(reconcile("", [job], DEBIAN_UTC).text, BACKUP_ID);
    expect(line).toBe(`0 2 * * * ${exec(BACKUP_ID, "tar czf /b/$(date +\\%F).tgz /srv")}`);
  });

  test.each([
    // command, debian, cronie, unknown (null: cannot be written)
    ["plain", "plain", "plain", "plain"],
    ["50%", "50\\%", "50\\%", "50\\%"],
    ["a\\nb", "a\\nb", "a\\nb", "a\\nb"],
    ["a\\\\b", "a\\\\\\b", "a\\\\b", null],
    ["\\%", "\\\\\\%", null, null],
    ["\\\\%", "\\\\\\\\\\%", "\\\\\\%", null],
    ["end\\", "end\\", "end\\", "end\\"],
  ] as const)("writes %j so that each cron reads it back exactly", (command, debian, cronie, unknown) => {
    const expected = { debian, cronie, unknown };
    for (const flavor of ["debian", "cronie", undefined] as const) {
      const want = expected[flavor ?? "unknown"];
      if (want === null) {
        expect(() => escapeCommand(command, flavor)).toThrow(Invalid);
        continue;
      }
      expect(escapeCommand(command, flavor)).toBe(want);
      for (const reader of flavor ? [flavor] : (["debian", "cronie"] as const)) {
        expect(cronReads(want, reader)).toEqual({ command, stdin: false });
      }
    }
  });

  test("accepts a command of exactly 998 bytes as written and refuses 999 (Debian's limit)", () => {
    const prefix = exec(BACKUP_ID, "");
    const fits = prefix + "x".repeat(MAX_COMMAND_BYTES - prefix.length);
    expect(reconcile("", [{ ...backup, command: fits }], DEBIAN_UTC).results[0]!.state).toBe("applied");
    const over = reconcile("", [{ ...backup, command: fits + "x" }], DEBIAN_UTC);
    expect(over.results[0]).toMatchObject({ state: "error", message: expect.stringContaining("999 bytes") });
    expect(over.text).toBe("");
    // Escapes count: a % is written as two bytes.
    const escaped = prefix + "x".repeat(MAX_COMMAND_BYTES - prefix.length - 1) + "%";
    expect(reconcile("", [{ ...backup, command: escaped }], DEBIAN_UTC).results[0]!.state).toBe("error");
    // Bytes, not characters.
    const wide = prefix + "é".repeat((MAX_COMMAND_BYTES - prefix.length) / 2 + 1);
    expect(reconcile("", [{ ...backup, command: wide }], DEBIAN_UTC).results[0]!.state).toBe("error");
  });

  test.each([
    ["a newline", exec(BACKUP_ID, "a\nb"), "command: contains a newline"],
    ["a carriage return", exec(BACKUP_ID, "a\rb"), "command: contains a carriage return"],
    ["a NUL byte", exec(BACKUP_ID, "a\0b"), "command: contains a NUL byte"],
    ["an escape character", exec(BACKUP_ID, "a\x1bb"), "command: contains the control character U+001b"],
    ["no job id", "/opt/backup.sh", `command: must name the job id ${BACKUP_ID}`],
    ["nothing", "   ", "command: is empty"],
  ])("refuses a command with %s and writes nothing for it", (_, command, message) => {
    const r = reconcile(ALICE_CRONTAB, [{ ...backup, command }, cleanup], DEBIAN_UTC);
    expect(r.results[0]).toMatchObject({ jobId: BACKUP_ID, state: "error", message: expect.stringContaining(message) });
    expect(r.results[1]).toMatchObject({ state: "applied" });
    expect(r.text).not.toContain(BACKUP_ID);
  });

  test.each([
    ["61 * * * *", "schedule: minute"],
    ["@every 5m", "schedule: @every schedules are ping-only"],
    ["@reboot", "schedule: @reboot"],
    ["0 0 30 2 *", "never occurs"],
    ["0 2 * * * rm -rf /", "schedule: expected 5 fields"],
    ["0 2 * * *\n* * * * *", "schedule:"],
  ])("refuses the schedule %j", (schedule, message) => {
    const r = reconcile("", [{ ...backup, schedule }], DEBIAN_UTC);
    expect(r.results[0]).toMatchObject({ state: "error", message: expect.stringContaining(message) });
    expect(r.text).toBe("");
  });

  test("refuses unknown zones, bad job ids and a job listed twice", () => {
    const r = reconcile(
      "",
      [{ ...backup, timezone: "Mars/Olympus" }, { ...cleanup, jobId: "not an id" }, report, { ...report, schedule: "@daily" }],
      DEBIAN_UTC,
    );
    expect(r.results.map((x) => x.state)).toEqual(["error", "error", "applied", "error"]);
    expect(r.results[0]!.message).toContain("timezone: unknown time zone");
    expect(r.results[1]!.message).toContain("jobId:");
    expect(r.results[3]!.message).toContain("listed twice");
    expect(entryLineOf(r.text, REPORT_ID)).toStartWith("30 6 * * MON-FRI ");
  });

  test("keeps a job's current line when its new definition cannot be written", () => {
    const ok = reconcile(ALICE_CRONTAB, [backup], DEBIAN_UTC);
    const bad = reconcile(ok.text, [{ ...backup, command: backup.command + "\n" }], DEBIAN_UTC);
    expect(bad.results[0]).toMatchObject({ state: "error", message: expect.stringContaining("its current line was left as it is") });
    expect(bad.text).toBe(ok.text);
  });

  test("formatLine writes a schedule and an escaped command", () => {
    expect(formatLine("0  2 * * *", "echo 100%")).toBe("0 2 * * * echo 100\\%");
    expect(formatLine("@DAILY", "x")).toBe("@daily x");
    expect(() => formatLine("@every 1h", "x")).toThrow(Invalid);
  });

  test("refuses to grow the crontab past the number of lines cron accepts", () => {
    const user = "# x\n".repeat(MAX_CRONTAB_LINES - 5);
    const r = reconcile(user, [backup, cleanup, report], DEBIAN_UTC);
    expect(lines(r.text).length - 1).toBeLessThanOrEqual(MAX_CRONTAB_LINES);
    // Blocks go in ref order (report, backup, cleanup); the last ones are dropped.
    expect(r.results.map((x) => x.state)).toEqual(["error", "error", "applied"]);
    expect(r.results[0]!.message).toContain("more than 10000 lines");
  });
});

describe("hand edits", () => {
  const host = CRONIE_UTC;
  const jobs = [{ ...backup, timezone: "Europe/Berlin" }, cleanup, report];
  const base = reconcile(ALICE_CRONTAB, jobs, host).text;

  function edit(fn: (ls: string[]) => void): string {
    const ls = lines(base);
    fn(ls);
    return ls.join("\n");
  }
  function at(ls: string[], jobId: string): number {
    return ls.findIndex((l) => l.startsWith(`# crontopus:job ${jobId} `));
  }

  test.each([
    ["a changed schedule", (ls: string[]) => { const i = at(ls, BACKUP_ID) + 2; ls[i] = ls[i]!.replace(/^0 2/, "0 3"); }, "its lines were edited by hand"],
    ["a changed command", (ls: string[]) => { const i = at(ls, BACKUP_ID) + 2; ls[i] += " --dry-run"; }, "its lines were edited by hand"],
    ["a commented-out line", (ls: string[]) => { const i = at(ls, BACKUP_ID) + 2; ls[i] = "#" + ls[i]; }, "its lines were edited by hand"],
    ["a changed zone", (ls: string[]) => { ls[at(ls, BACKUP_ID) + 1] = "CRON_TZ=UTC"; }, "its lines were edited by hand"],
    ["an edited marker", (ls: string[]) => { const i = at(ls, BACKUP_ID); ls[i] = ls[i]!.replace("ops/", "dev/"); }, "its lines were edited by hand"],
    ["a CRLF line", (ls: string[]) => { ls[at(ls, BACKUP_ID) + 2] += "\r"; }, "its lines were edited by hand"],
    ["a deleted entry line", (ls: string[]) => { ls.splice(at(ls, BACKUP_ID) + 2, 1); }, "its entry line was deleted by hand"],
    ["a deleted marker", (ls: string[]) => { ls.splice(at(ls, BACKUP_ID), 1); }, "its # crontopus:job line was deleted by hand"],
    ["a deleted block", (ls: string[]) => { ls.splice(at(ls, BACKUP_ID), 3); }, "its lines were deleted by hand"],
    ["a copied block", (ls: string[]) => { const i = at(ls, BACKUP_ID); ls.splice(i, 0, ...ls.slice(i, i + 3)); }, "its lines were copied by hand"],
  ])("reports %s as drift and restores the job", (_, change, message) => {
    const r = reconcile(edit(change), jobs, host);
    expect(r.results[0]).toEqual({ jobId: BACKUP_ID, state: "drifted", message: `${message}; restored` });
    expect(r.results.slice(1).map((x) => x.message)).toEqual(["unchanged", "unchanged"]);
    expect(r.text).toBe(base);
  });

  test("reports two deleted blocks as drift", () => {
    const text = edit((ls) => {
      ls.splice(at(ls, REPORT_ID), 3);
      ls.splice(at(ls, CLEANUP_ID), 3);
    });
    const r = reconcile(text, jobs, host);
    expect(r.results.map((x) => x.state)).toEqual(["applied", "drifted", "drifted"]);
    expect(r.text).toBe(base);
  });

  test("reports the removal of an edited job that is no longer desired", () => {
    const text = edit((ls) => {
      ls[at(ls, CLEANUP_ID) + 2] += " --edited";
    });
    const r = reconcile(text, [jobs[0]!, report], host);
    expect(r.removed).toEqual([CLEANUP_ID]);
    expect(r.text).not.toContain(CLEANUP_ID);
  });

  test("keeps a line Bob added inside the section, moving it above the section", () => {
    const text = edit((ls) => {
      ls.splice(at(ls, CLEANUP_ID), 0, "# bob: cleanup is slow on Mondays", "0 7 * * 1 /usr/bin/bobs-thing");
    });
    const r = reconcile(text, jobs, host);
    expect(r.results.map((x) => x.message)).toEqual(["unchanged", "unchanged", "unchanged"]);
    expect(lines(r.text).slice(0, 5)).toEqual([
      ...lines(ALICE_CRONTAB).slice(0, 3),
      "# bob: cleanup is slow on Mondays",
      "0 7 * * 1 /usr/bin/bobs-thing",
    ]);
    expect(managedPart(r.text).join("\n")).toBe(managedPart(base).join("\n"));
  });

  test("moves lines appended below the section above it", () => {
    const user = ALICE_CRONTAB + "SHELL=/bin/bash\n0 8 * * * /usr/bin/late";
    const r = reconcile(base + "SHELL=/bin/bash\n0 8 * * * /usr/bin/late", jobs, host);
    expect(r.results.map((x) => x.message)).toEqual(["unchanged", "unchanged", "unchanged"]);
    expect(r.text).toBe(reconcile(user, jobs, host).text);
    expect(uninstall(r.text)).toBe(user);
  });

  test("does not mistake a user's comments that look like markers for managed lines", () => {
    const user = "# crontopus\n# crontopus:job notes about backups\n#crontopus:job x y z\n# crontopus:beginning\n# crontopus:end of my lines\n";
    const r = reconcile(user, [backup], DEBIAN_UTC);
    expect(r.text.startsWith(user)).toBe(true);
    expect(uninstall(r.text)).toBe(user);
    expect(reconcile(r.text, [], DEBIAN_UTC).text).toBe(user);
  });
});

describe("uninstall", () => {
  test.each([
    ["an empty crontab", ""],
    ["one blank line", "\n"],
    ["a crontab ending with a newline", ALICE_CRONTAB],
    ["a crontab without a final newline", "MAILTO=x\n0 5 * * * /usr/bin/y"],
    ["a CRLF crontab", "MAILTO=x\r\n0 5 * * * y\r\n"],
    ["a crontab ending in blank lines", "0 5 * * * y\n\n\n"],
  ])("gives back %s byte for byte", (_, user) => {
    let text = user;
    for (const desired of [[backup], [backup, cleanup], [{ ...cleanup, paused: true }]]) {
      text = reconcile(text, desired, DEBIAN_UTC).text;
    }
    expect(uninstall(text)).toBe(user);
    expect(uninstall(user)).toBe(user);
  });

  test("also removes an entry line whose marker was deleted by hand", () => {
    const text = reconcile(ALICE_CRONTAB, [backup, cleanup], DEBIAN_UTC).text.replace(/# crontopus:job 0192f0c4\S* \S+ \S+\n/, "");
    expect(uninstall(text)).toBe(ALICE_CRONTAB);
  });
});

describe("discover", () => {
  test("lists the user's entries, including @reboot, and none of the managed ones", () => {
    const user = "MAILTO=x\n# 0 1 * * * commented\n\n@reboot /usr/bin/start\n*/5\t*  * * *   /usr/bin/poll --fast  \r\n0 5 * * * /usr/bin/poll --fast  \r\n*/5\t*  * * *   /usr/bin/poll --fast  \r\n";
    const text = reconcile(user, [backup], DEBIAN_UTC).text;
    const found = discover(text);
    expect(found.map(({ line, schedule, command }) => ({ line, schedule, command }))).toEqual([
      { line: 4, schedule: "@reboot", command: "/usr/bin/start" },
      { line: 5, schedule: "*/5 * * * *", command: "/usr/bin/poll --fast" },
      { line: 6, schedule: "0 5 * * *", command: "/usr/bin/poll --fast" },
      { line: 7, schedule: "*/5 * * * *", command: "/usr/bin/poll --fast" },
    ]);
    expect(found[0]!.raw).toBe("@reboot /usr/bin/start");
    // Identical lines get distinct ids; ids do not move when other lines change.
    expect(found[3]!.id).toBe(`${found[1]!.id}-2`);
    expect(new Set(found.map((f) => f.id)).size).toBe(4);
    expect(discover("# new comment\n" + text).map((f) => f.id)).toEqual(found.map((f) => f.id));
  });
});

describe("lineKind and parseEnvLine follow Debian's parser", () => {
  test.each([
    ["", "blank"],
    [" \t", "blank"],
    // Debian's cron refuses a line holding only a carriage return ("bad minute").
    [" \r", "entry"],
    ["# c", "comment"],
    ["   # c", "comment"],
    ["A=b", "env"],
    ["  SHELL = /bin/zsh  ", "env"],
    ["'FOO'=bar", "env"],
    ['MAILTO=""', "env"],
    // Neither Debian's cron nor cronie takes an empty unquoted value.
    ["MAILTO=", "entry"],
    ["0 * * * * A=b", "entry"],
    ["@daily FOO=bar", "entry"],
    ['A="b" c', "entry"],
    ["0 2 * * * /bin/x", "entry"],
  ])("%j is a %s line", (line, kind) => {
    expect(lineKind(line)).toBe(kind as ReturnType<typeof lineKind>);
  });

  test("reads names and values as cron does", () => {
    expect(parseEnvLine(" SHELL = /bin/zsh \r")).toEqual({ name: "SHELL", value: "/bin/zsh" });
    expect(parseEnvLine("'CRON_TZ'=\"Asia/Tokyo\"")).toEqual({ name: "CRON_TZ", value: "Asia/Tokyo" });
    expect(parseEnvLine("FOO='a b'")).toEqual({ name: "FOO", value: "a b" });
    expect(parseEnvLine("# A=b")).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------
// Time zones

describe("hostSchedule", () => {
  const vixie = (timezone: string): HostCron => ({ timezone, supportsCronTz: false });

  test.each([
    ["0 2 * * *", "Europe/Berlin", "UTC", "0 0,1 * * *"],
    // 02:30 does not exist on the spring-forward day: the job runs at 03:00 EDT, 07:00 UTC.
    ["30 2 * * *", "America/New_York", "UTC", "0,30 6,7 * * *"],
    // The host has DST, so the line must start with "*" to run in both passes of a repeated hour.
    ["0 6 * * *", "UTC", "America/New_York", "*/59 1,2 * * *"],
    // Shifting crosses midnight, so the weekday can differ: days become "*".
    ["0 0 * * MON", "Europe/Berlin", "UTC", "0 22,23 * * *"],
    ["0 12 * * MON-FRI", "Europe/Berlin", "UTC", "0 10,11 * * MON-FRI"],
    ["15 9 * * *", "Asia/Kolkata", "UTC", "45 3 * * *"],
    ["0 9 * * *", "Asia/Kathmandu", "Asia/Kolkata", "45 8 * * *"],
    ["@hourly", "America/New_York", "UTC", "0 * * * *"],
    // Lord Howe moves its clocks by half an hour.
    ["0 2 * * *", "Australia/Lord_Howe", "UTC", "0,30 15 * * *"],
    ["*/15 * * * *", "Australia/Lord_Howe", "UTC", "0,15,30,45 * * * *"],
  ])("writes %j in %s as %j on a Vixie host in %s", (schedule, jobTz, hostTz, expected) => {
    expect(hostSchedule(schedule, jobTz, vixie(hostTz))).toEqual({ strategy: "superset", schedule: expected });
  });

  test("keeps the schedule as written for zones on the same clock", () => {
    for (const [jobTz, hostTz] of [["UTC", "UTC"], ["Etc/UTC", "UTC"], ["GMT", "Etc/UTC"], ["Europe/Paris", "Europe/Berlin"]]) {
      expect(hostSchedule("0  2 * * *", jobTz!, vixie(hostTz!))).toEqual({ strategy: "as-is", schedule: "0 2 * * *" });
    }
  });

  test("keeps the schedule as written on cron-tz hosts", () => {
    expect(hostSchedule("@DAILY", "Asia/Tokyo", CRONIE_UTC)).toEqual({ strategy: "cron-tz", schedule: "@daily" });
  });
});

describe("isDue", () => {
  const ny = "America/New_York";

  test("runs a fixed-time job skipped by spring-forward right after the gap", () => {
    // 2027-03-14: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    expect(isDue("30 2 * * *", ny, Date.UTC(2027, 2, 14, 7, 0))).toBe(true);
    expect(isDue("30 2 * * *", ny, Date.UTC(2027, 2, 14, 7, 30))).toBe(false);
    expect(isDue("30 2 * * *", ny, Date.UTC(2027, 2, 15, 6, 30))).toBe(true);
    expect(isDue("*/30 2 * * *", ny, Date.UTC(2027, 2, 14, 7, 0))).toBe(false);
  });

  test("runs a fixed-time job once in a repeated hour, and a wildcard job twice", () => {
    // 2027-11-07: 01:00-02:00 happens at 05:00 UTC (EDT) and again at 06:00 UTC (EST).
    expect(isDue("30 1 * * *", ny, Date.UTC(2027, 10, 7, 5, 30))).toBe(true);
    expect(isDue("30 1 * * *", ny, Date.UTC(2027, 10, 7, 6, 30))).toBe(false);
    expect(isDue("*/30 1 * * *", ny, Date.UTC(2027, 10, 7, 5, 30))).toBe(true);
    expect(isDue("*/30 1 * * *", ny, Date.UTC(2027, 10, 7, 6, 30))).toBe(true);
  });

  test("takes any instant inside the minute", () => {
    expect(isDue("0 2 * * *", "Europe/Berlin", Date.UTC(2027, 2, 28, 1, 0, 59, 999))).toBe(true);
    expect(isDue("0 2 * * *", "Europe/Berlin", Date.UTC(2027, 2, 28, 1, 1))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------
// Generated cases

function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    int,
    chance: (p: number): boolean => next() < p,
    pick: <T,>(items: readonly T[]): T => items[int(items.length)]!,
    hex: (n: number): string => Array.from({ length: n }, () => "0123456789abcdef"[int(16)]).join(""),
  };
}
type Rnd = ReturnType<typeof prng>;

/** The SHELL and CRON_TZ cron uses for each line (an unset CRON_TZ is the host's zone). */
function envAt(ls: string[], hostTz: string): Array<{ SHELL: string; CRON_TZ: string }> {
  let env = { SHELL: "/bin/sh", CRON_TZ: hostTz };
  return ls.map((l) => {
    const v = lineKind(l) === "env" ? parseEnvLine(l) : null;
    if (v && (v.name === "SHELL" || v.name === "CRON_TZ")) env = { ...env, [v.name]: v.value };
    return env;
  });
}

const USER_LINES = [
  "# m h  dom mon dow   command", "#", "", "   ", "\t", "  # indented", "\t# tabbed",
  "# crontopus", "# crontopus rocks", "#crontopus:job abc", "# crontopus:job 1234 nothex ref", "# crontopus:jobs",
  "# crontopus:beginning", "# crontopus:end of my lines", "# Crontopus:begin", "#  crontopus:end",
  "SHELL=/bin/zsh", "SHELL = /bin/bash", "  SHELL=/usr/bin/fish", "MAILTO=ops@example.com", 'MAILTO=""', "MAILTO=",
  "PATH=/usr/local/bin:/usr/bin:/bin", "CRON_TZ=Asia/Tokyo", " CRON_TZ = Europe/Paris", "HOME=/root",
  "FOO='bar baz'", 'QUOTED="a=b"', "TZ=UTC",
  "0 5 * * * /usr/bin/backup", "*/15\t*\t*\t*\t*\techo tab", "@reboot /usr/bin/start", "@daily  run-parts /etc/x",
  "0 0 1 1 * echo \\% percent", "30 2 * * 1-5 cmd >/dev/null 2>&1", "0 12 * * * echo trailing   ",
  "  5 4 * * sun  echo indented", "@hourly /bin/true # not a comment", "0 0 * * * SHELL=/bin/sh echo env-looking",
  "0 */2 * * * /usr/local/bin/crontopus exec --job 11111111-2222-7333-8444-555555555555 -- /bin/true",
  "1 2 3 4 5 printf 'x\\%y' | mail -s hi root", "0 4 * * * tar czf - /home | ssh b 'cat > h.tgz'",
] as const;
// Lines a user might add between two managed blocks (a variable there would be read as the
// agent's restore line only right above the end line, and "--job <id>" marks a line as the
// agent's; these tests keep both out).
const INSIDE_LINES = USER_LINES.filter((l) => lineKind(l) !== "env" && !l.includes("--job"));

function userLine(rnd: Rnd, pool: readonly string[] = USER_LINES): string {
  let line = rnd.pick(pool);
  if (rnd.chance(0.05)) line += "  ";
  if (rnd.chance(0.05)) line += "\r";
  return line;
}

function userCrontab(rnd: Rnd): { lines: string[]; eol: boolean } {
  const crlf = rnd.chance(0.1);
  const ls = Array.from({ length: rnd.int(12) }, () => userLine(rnd) + (crlf ? "\r" : ""));
  // A text without a final newline ends with a non-empty line.
  const eol = ls.length === 0 || ls[ls.length - 1] === "" || rnd.chance(0.75);
  return { lines: ls, eol };
}

function joinLines(ls: string[], eol: boolean): string {
  return ls.length === 0 ? "" : ls.join("\n") + (eol ? "\n" : "");
}

const ZONES = ["UTC", "Etc/UTC", "Europe/Berlin", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Sao_Paulo"];
const HOSTS: HostCron[] = [
  { timezone: "UTC", supportsCronTz: false, flavor: "debian" },
  { timezone: "Europe/Berlin", supportsCronTz: false, flavor: "debian" },
  { timezone: "America/New_York", supportsCronTz: false },
  { timezone: "UTC", supportsCronTz: true, flavor: "cronie" },
  { timezone: "Europe/London", supportsCronTz: true },
];
const GOOD_SCHEDULES = ["0 2 * * *", "*/15 * * * *", "30 6 * * MON-FRI", "@daily", "@hourly", "0 0 1 * *", "5,35 9-17 * * 1-5", "0 12 */2 * *", "@weekly", "59 23 31 12 *"];
const BAD_SCHEDULES = ["61 * * * *", "@every 5m", "@reboot", "0 0 30 2 *", "* * * *"];

type CommandKind = { text: (id: string) => string; ok: (flavor: CronFlavor | undefined) => boolean };
const COMMANDS: CommandKind[] = [
  { text: (id) => exec(id, "/opt/backup.sh --full"), ok: () => true },
  { text: (id) => exec(id, "tar czf /b/$(date +%F).tgz /srv 2>&1 | logger"), ok: () => true },
  { text: (id) => exec(id, "sh -c 'echo \"hi there\" >> /tmp/log'"), ok: () => true },
  { text: (id) => exec(id, "printf 'a\tb\\n'"), ok: () => true },
  { text: (id) => exec(id, "echo 'héllo wörld ☃'"), ok: () => true },
  { text: (id) => exec(id, "echo a\\\\b"), ok: (f) => f !== undefined },
  { text: (id) => exec(id, "echo \\%"), ok: (f) => f === "debian" },
  { text: (id) => exec(id, "echo \\\\%"), ok: (f) => f !== undefined },
  { text: (id) => exec(id, "a\nb"), ok: () => false },
  { text: (id) => exec(id, "a\rb"), ok: () => false },
  { text: () => "/opt/no-id.sh", ok: () => false },
  { text: (id) => exec(id, "x".repeat(MAX_COMMAND_BYTES - exec(id, "").length)), ok: () => true },
  { text: (id) => exec(id, "x".repeat(MAX_COMMAND_BYTES + 1 - exec(id, "").length)), ok: () => false },
];

interface Job {
  entry: DesiredEntry;
  ok: boolean;
}

function randomJob(rnd: Rnd, jobId: string, host: HostCron): Job {
  const badSchedule = rnd.chance(0.05);
  const badZone = rnd.chance(0.03);
  const kind = rnd.chance(0.7) ? COMMANDS[0]! : rnd.pick(COMMANDS);
  const entry: DesiredEntry = {
    jobId,
    ref: rnd.pick(["ops/backup", "web/cleanup", "finance/report", "équipe/sauvegarde nocturne", "a/b", "ops/backup"]),
    schedule: rnd.pick(badSchedule ? BAD_SCHEDULES : GOOD_SCHEDULES),
    timezone: badZone ? "Mars/Olympus" : rnd.pick(ZONES),
    command: kind.text(jobId),
    paused: rnd.chance(0.2),
  };
  return { entry, ok: !badSchedule && !badZone && kind.ok(host.flavor) };
}

type Tag = "above" | "ours" | "inside" | "below";
type Edit = "schedule" | "command" | "toggle" | "crlf" | "marker" | "deleteEntry" | "deleteMarker" | "deleteBlock" | "copy";
const EDITS: Edit[] = ["schedule", "command", "toggle", "crlf", "marker", "deleteEntry", "deleteMarker", "deleteBlock", "copy"];

/** Applies hand edits to up to two managed blocks, and lines a user adds inside and below the section. */
function editByHand(rnd: Rnd, tagged: Array<{ text: string; tag: Tag }>): { edited: Map<string, Edit>; below: boolean; belowEol: boolean } {
  const markers = tagged.flatMap((l, i) => (l.tag === "ours" && l.text.startsWith("# crontopus:job ") ? [i] : []));
  const chosen = new Set<number>();
  const count = rnd.chance(0.5) ? rnd.int(3) : 0;
  while (chosen.size < Math.min(count, markers.length)) chosen.add(rnd.int(markers.length));
  // A user line goes right above a marker whose block and previous block keep their lines
  // (an entry-less block would claim it).
  const insertAt = rnd.chance(0.3) ? rnd.int(markers.length) : -1;
  const insertBefore = insertAt >= 0 && !chosen.has(insertAt) && !chosen.has(insertAt - 1) ? tagged[markers[insertAt]!] : undefined;
  const edited = new Map<string, Edit>();
  // Work from the last block up, so indexes of earlier blocks stay valid.
  for (const b of [...chosen].sort((x, y) => y - x)) {
    const at = markers[b]!;
    const id = tagged[at]!.text.split(" ")[2]!;
    const size = tagged[at + 1]!.text.startsWith("CRON_TZ=") ? 3 : 2;
    const entry = at + size - 1;
    const kind = rnd.pick(EDITS);
    edited.set(id, kind);
    const e = tagged[entry]!;
    switch (kind) {
      case "schedule": e.text = e.text.replace(/^(#?)(\S+)/, (_, hash, first) => hash + (first === "7" ? "8" : "7")); break;
      case "command": e.text += " --edited"; break;
      case "toggle": e.text = e.text.startsWith("#") ? e.text.slice(1) : "#" + e.text; break;
      case "crlf": e.text += "\r"; break;
      case "marker": tagged[at]!.text = tagged[at]!.text.replace(/ (\S+)$/, " $1-renamed"); break;
      case "deleteEntry": tagged.splice(entry, 1); break;
      case "deleteMarker": tagged.splice(at, 1); break;
      case "deleteBlock": tagged.splice(at, size); break;
      case "copy": tagged.splice(at, 0, ...tagged.slice(at, at + size).map((l) => ({ ...l }))); break;
    }
  }
  if (insertBefore) {
    const at = tagged.indexOf(insertBefore);
    const added = Array.from({ length: 1 + rnd.int(2) }, () => ({ text: userLine(rnd, INSIDE_LINES), tag: "inside" as Tag }));
    tagged.splice(at, 0, ...added);
  }
  const below = rnd.chance(0.25);
  const belowEol = rnd.chance(0.7);
  if (below) {
    const added = Array.from({ length: 1 + rnd.int(3) }, () => ({ text: userLine(rnd), tag: "below" as Tag }));
    // Without a final newline the last line must not be empty.
    if (!belowEol && added[added.length - 1]!.text === "") added[added.length - 1]!.text = "# last";
    tagged.push(...added);
  }
  return { edited, below, belowEol };
}

function checkManagedLines(text: string, jobs: Map<string, Job>, host: HostCron): void {
  const ls = lines(text);
  const env = envAt(ls, host.timezone);
  const begin = ls.findIndex(isBeginLine);
  const entries = new Set<number>();
  const ids: string[] = [];
  for (let i = begin; i < ls.length; i++) {
    if (!ls[i]!.startsWith("# crontopus:job ")) continue;
    const id = ls[i]!.split(" ")[2]!;
    ids.push(id);
    const entryAt = ls[i + 1]!.startsWith("CRON_TZ=") ? i + 2 : i + 1;
    entries.add(entryAt);
    const job = jobs.get(id)!;
    if (!job.ok) continue;
    const entry = ls[entryAt]!;
    expect(entry.startsWith("#")).toBe(job.entry.paused);
    const body = job.entry.paused ? entry.slice(1) : entry;
    expect(lineKind(body)).toBe("entry");
    const fields = body.startsWith("@") ? 1 : 5;
    const schedule = body.split(" ").slice(0, fields).join(" ");
    const written = body.split(" ").slice(fields).join(" ");
    expect(() => parseSchedule("schedule", schedule, host.timezone)).not.toThrow();
    expect(Buffer.byteLength(written)).toBeLessThanOrEqual(MAX_COMMAND_BYTES);
    for (const reader of host.flavor ? [host.flavor] : (["debian", "cronie"] as const)) {
      expect(cronReads(written, reader)).toEqual({ command: job.entry.command, stdin: false });
    }
    expect(env[entryAt]!.SHELL).toBe("/bin/sh");
    if (host.supportsCronTz) expect(env[entryAt]!.CRON_TZ).toBe(job.entry.timezone);
    else expect(ls[i + 1]!.startsWith("CRON_TZ=")).toBe(false);
  }
  // The agent's other lines are comments and variables; the text ends with a newline.
  for (let i = begin; i < ls.length - 1; i++) {
    if (!entries.has(i)) expect(["comment", "env"]).toContain(lineKind(ls[i]!));
  }
  expect(ls[ls.length - 1]).toBe("");
  // Sorted by ref, then job id, each job once.
  const order = ls.slice(begin).filter((l) => l.startsWith("# crontopus:job ")).map((l) => {
    const [, , id, , ref] = l.split(" ");
    return `${ref}\u0000${id}`;
  });
  expect(order).toEqual([...order].sort());
  expect(new Set(ids).size).toBe(ids.length);
}

/** One generated story: a user crontab, then passes of new desired states and hand edits. */
function runSequence(seed: number, trace: string[]): void {
  const rnd = prng(seed);
  const host = rnd.pick(HOSTS);
  const pool = Array.from({ length: 6 }, () => `${rnd.hex(8)}-${rnd.hex(4)}-7${rnd.hex(3)}-8${rnd.hex(3)}-${rnd.hex(12)}`);
  const original = userCrontab(rnd);
  let human = original.lines.slice();
  let humanEol = original.eol;
  let text = joinLines(human, humanEol);
  let jobs = new Map<string, Job>();
  let written = new Map<string, string[]>(); // job id -> its block in `text`
  const steps = 1 + rnd.int(5);
  for (let step = 0; step < steps; step++) {
    // New desired state.
    const next = new Map(jobs);
    for (const id of pool) {
      if (!next.has(id) && rnd.chance(0.3)) next.set(id, randomJob(rnd, id, host));
      else if (next.has(id) && rnd.chance(0.15)) next.delete(id);
      else if (next.has(id) && rnd.chance(0.25)) {
        const changed = randomJob(rnd, id, host);
        next.set(id, rnd.chance(0.5) ? changed : { ...next.get(id)!, entry: { ...next.get(id)!.entry, paused: !next.get(id)!.entry.paused } });
      }
    }
    jobs = next;
    const desired = [...jobs.values()].map((j) => j.entry).sort(() => (rnd.chance(0.5) ? -1 : 1));

    // Hand edits, and lines users add, on a text that has a managed section.
    const ls = lines(text.endsWith("\n") ? text.slice(0, -1) : text);
    const tagged = ls.map((t, i) => ({ text: t, tag: (i < human.length ? "above" : "ours") as Tag }));
    let edited = new Map<string, Edit>();
    if (written.size > 0) {
      const r = editByHand(rnd, tagged);
      edited = r.edited;
      human = [...human, ...tagged.filter((l) => l.tag === "inside").map((l) => l.text), ...tagged.filter((l) => l.tag === "below").map((l) => l.text)];
      if (r.below) humanEol = r.belowEol;
      text = tagged.map((l) => l.text).join("\n") + (r.below && !r.belowEol ? "" : "\n");
    }
    const before = tagged;
    const outside = (tag: Tag) => tag === "above" || tag === "below";
    const envBefore = envAt(before.map((l) => l.text), host.timezone).filter((_, i) => outside(before[i]!.tag));
    const textsBefore = before.filter((l) => outside(l.tag)).map((l) => l.text);

    const r = reconcile(text, desired, host);
    trace.push(JSON.stringify({ step, host, text, edited: [...edited], desired, result: r }, null, 1));

    // Results: errors for what cannot be written, drift for what was edited, else applied.
    const deletedBlocks = [...edited].filter(([, k]) => k === "deleteBlock").map(([id]) => id);
    const deletionsTraceable = deletedBlocks.length <= 2 && deletedBlocks.every((id) => jobs.get(id)?.ok);
    const expected = desired.map((d) => {
      const job = jobs.get(d.jobId)!;
      if (!job.ok) return "error";
      const kind = edited.get(d.jobId);
      if (kind && (kind !== "deleteBlock" || deletionsTraceable)) return "drifted";
      return "applied";
    });
    expect(r.results.map((x) => x.state)).toEqual(expected);
    const stillThere = [...written.keys()].filter((id) => edited.get(id) !== "deleteBlock");
    expect(r.removed).toEqual(stillThere.filter((id) => !jobs.has(id)).sort());

    // The user's lines, in order and byte for byte, then the section.
    const out = lines(r.text);
    const keptBlocks = [...jobs.values()].filter((j) => j.ok || (written.has(j.entry.jobId) && !edited.has(j.entry.jobId)));
    if (keptBlocks.length === 0) {
      expect(r.text).toBe(joinLines(human, humanEol));
    } else {
      expect(out.slice(0, human.length)).toEqual(human);
      expect(out[human.length]!.startsWith("# crontopus:begin")).toBe(true);
      expect(r.text.endsWith("\n")).toBe(true);
      checkManagedLines(r.text, jobs, host);
    }
    // Jobs that cannot be written keep their previous block if nobody touched it.
    for (const j of jobs.values()) {
      if (j.ok) continue;
      const block = out.filter((l) => l.includes(j.entry.jobId));
      const keep = written.has(j.entry.jobId) && !edited.has(j.entry.jobId);
      expect(block).toEqual(keep ? written.get(j.entry.jobId)!.filter((l) => l.includes(j.entry.jobId)) : []);
    }

    // Moving the user's lines from below the section to above it keeps their SHELL and
    // CRON_TZ (lines added inside the section are moved out of it, which changes theirs).
    const aboveN = before.filter((l) => l.tag === "above").length;
    const insideN = before.filter((l) => l.tag === "inside").length;
    const notInside = (_: unknown, i: number) => i < aboveN || i >= aboveN + insideN;
    const envAfter = envAt(out, host.timezone).slice(0, human.length).filter(notInside);
    const textsAfter = human.filter(notInside);
    expect(textsAfter).toEqual(textsBefore);
    const ofEntries = (envs: typeof envBefore, texts: string[]) => texts.map((t, i) => (lineKind(t) === "entry" ? envs[i] : null));
    expect(ofEntries(envAfter, textsAfter)).toEqual(ofEntries(envBefore, textsBefore));

    // Idempotent, and reversible.
    const again = reconcile(r.text, desired, host);
    expect(again.text).toBe(r.text);
    expect(again.changed).toBe(false);
    expect(again.results.map((x) => x.state)).toEqual(expected.map((s) => (s === "error" ? "error" : "applied")));
    expect(again.removed).toEqual([]);
    expect(uninstall(r.text)).toBe(joinLines(human, humanEol));

    text = r.text;
    written = new Map();
    const outLines = lines(text);
    const sectionAt = outLines.findIndex(isBeginLine);
    for (let i = sectionAt; sectionAt >= 0 && i < outLines.length; i++) {
      if (!outLines[i]!.startsWith("# crontopus:job ")) continue;
      const id = outLines[i]!.split(" ")[2]!;
      const size = outLines[i + 1]!.startsWith("CRON_TZ=") ? 3 : 2;
      written.set(id, outLines.slice(i, i + size));
    }
  }
  expect(uninstall(text)).toBe(joinLines(human, humanEol));
  expect(reconcile(text, [], host).text).toBe(joinLines(human, humanEol));
}

describe("generated crontabs and desired states", () => {
  test("keep user lines, report and undo hand edits, and stay idempotent and reversible", () => {
    for (let seed = 1; seed <= 1500; seed++) {
      const trace: string[] = [];
      try {
        runSequence(seed, trace);
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}\nlast pass: ${trace.at(-1)}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// The superset schedule covers every true run

const TZ_SAMPLE = [
  "UTC", "Etc/UTC", "Europe/London", "Europe/Berlin", "Europe/Dublin", "America/New_York", "America/Sao_Paulo",
  "America/St_Johns", "America/Santiago", "America/Havana", "Australia/Sydney", "Australia/Lord_Howe",
  "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham", "Africa/Casablanca", "Antarctica/Troll", "Asia/Tehran",
  "America/Nuuk", "Pacific/Apia",
];

const YEAR_START = Date.UTC(2027, 0, 1);
const YEAR_END = Date.UTC(2028, 0, 1);
const changesIn2027 = new Map<string, number[]>();

const formats = new Map<string, Intl.DateTimeFormat>();

function offsetOf(ms: number, tz: string): number {
  const p: Record<string, number> = {};
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" });
    formats.set(tz, f);
  }
  for (const part of f.formatToParts(ms)) p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!) - Math.floor(ms / 60_000) * 60_000;
}

/** Instants (within 6 hours) around which the zone's offset changes in 2027. */
function changes(tz: string): number[] {
  let out = changesIn2027.get(tz);
  if (!out) {
    out = [];
    let prev = offsetOf(YEAR_START, tz);
    for (let t = YEAR_START + 6 * 3_600_000; t < YEAR_END; t += 6 * 3_600_000) {
      const o = offsetOf(t, tz);
      if (o !== prev) out.push(t);
      prev = o;
    }
    changesIn2027.set(tz, out);
  }
  return out;
}

/** Run times in [from, to), asking nextRuns for growing batches (a large n scans years ahead). */
function runsBetween(s: ReturnType<typeof parseSchedule>, tz: string, from: number, to: number): number[] {
  const out: number[] = [];
  let after = from - 1;
  for (let n = 16; ; n *= 2) {
    const batch = nextRuns(s, tz, after, n);
    for (const t of batch) if (t < to) out.push(t);
    if (batch.length < n || batch[batch.length - 1]! >= to) return out;
    after = batch[batch.length - 1]!;
  }
}

function randomField(rnd: Rnd, max: number): string {
  const a = rnd.int(max + 1);
  const b = a + rnd.int(max + 1 - a);
  switch (rnd.int(6)) {
    case 0: return "*";
    case 1: return `*/${1 + rnd.int(Math.min(max, 20))}`;
    case 2: return String(a);
    case 3: return `${a},${rnd.int(max + 1)}`;
    case 4: return `${a}-${b}`;
    default: return `${a}-${b}/${1 + rnd.int(5)}`;
  }
}

function randomSchedule(rnd: Rnd): string {
  for (;;) {
    const expr = rnd.chance(0.1)
      ? rnd.pick(["@hourly", "@daily", "@weekly", "@monthly", "@yearly"])
      : [
          randomField(rnd, 59),
          rnd.chance(0.3) ? "*" : randomField(rnd, 23),
          rnd.chance(0.7) ? "*" : rnd.pick(["1", "15", "1-7", "*/2", "31", "28-31"]),
          rnd.chance(0.8) ? "*" : rnd.pick(["3", "10-11", "*/3", "1,7"]),
          rnd.chance(0.7) ? "*" : rnd.pick(["0", "1-5", "SUN", "6,0", "*/2"]),
        ].join(" ");
    try {
      parseSchedule("schedule", expr, "UTC");
      return expr;
    } catch {
      // "0 0 31 2 *" and friends never run; draw again.
    }
  }
}

describe("the superset schedule", () => {
  test("fires at every minute the job is due in its own zone, across DST changes of both zones", () => {
    const rnd = prng(2027);
    const HOUR = 3_600_000;
    for (let n = 0; n < 400; n++) {
      const jobTz = rnd.pick(TZ_SAMPLE);
      const hostTz = rnd.pick(TZ_SAMPLE);
      const expr = randomSchedule(rnd);
      const plan = hostSchedule(expr, jobTz, { timezone: hostTz, supportsCronTz: false });
      const job = parseSchedule("schedule", expr, jobTz);
      const host = parseSchedule("schedule", plan.schedule, hostTz);
      const windows = [...changes(jobTz), ...changes(hostTz), YEAR_START + rnd.int(360) * 24 * HOUR, YEAR_START + rnd.int(360) * 24 * HOUR];
      for (const center of windows) {
        const from = center - 36 * HOUR;
        const to = center + 36 * HOUR;
        const due = runsBetween(job, jobTz, from, to);
        const fires = new Set(runsBetween(host, hostTz, from, to));
        const missed = due.filter((t) => !fires.has(t));
        if (missed.length > 0) {
          throw new Error(`"${expr}" in ${jobTz} as "${plan.schedule}" in ${hostTz} misses ${new Date(missed[0]!).toISOString()}`);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// Opt-in: the real `crontab -n` (a dry run that installs nothing) checks generated output.

describe("Debian's crontab", () => {
  test.skipIf(!process.env.CRONTOPUS_TEST_REAL_CRONTAB)("accepts every generated crontab (crontab -n)", () => {
    const dir = mkdtempSync(join(tmpdir(), "crontopus-crontab-"));
    try {
      const rnd = prng(7);
      // Lines Debian's crontab itself accepts: "MAILTO=" is not a variable to it (nor to
      // cronie), and a line of blanks and "\r" is an error.
      const valid = USER_LINES.filter((l) => l !== "MAILTO=" && l.trim() !== "");
      for (let n = 0; n < 200; n++) {
        const host = { ...rnd.pick(HOSTS), flavor: "debian" as const };
        // Debian refuses a final line without a newline; the agent adds one only with its section.
        const user = Array.from({ length: rnd.int(8) }, () => userLine(rnd, valid) + "\n").join("");
        const desired = Array.from({ length: 1 + rnd.int(4) }, () => {
          const id = `${rnd.hex(8)}-${rnd.hex(4)}-7${rnd.hex(3)}-8${rnd.hex(3)}-${rnd.hex(12)}`;
          return randomJob(rnd, id, host).entry;
        });
        const { text } = reconcile(user, desired, host);
        const file = join(dir, `c${n}`);
        writeFileSync(file, text);
        const run = spawnSync("crontab", ["-n", file], { encoding: "utf8" });
        expect({ text, status: run.status, out: run.stdout + run.stderr }).toMatchObject({ status: 0 });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
