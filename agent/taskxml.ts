// The task definition Crontopus writes for a job: Task Scheduler 1.2 XML with the job's
// triggers (triggers.ts), its action (`crontopus.exe exec --job <id> -- <command…>`, quoted for
// a Windows command line), its principal and a `crontopus:job <id> <hash>` marker that the
// backend (schtasks.ts) reads back to tell its own tasks, and their drift, apart. Pure.
import { createHash } from "node:crypto";
import { Invalid } from "../src/errors";
import { describeSchedule, parseSchedule } from "../src/jobs/schedule";
import { BASE_DATE, cronToTriggers, type Trigger, type TriggerDays } from "./triggers";

const MIN = 60_000;

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
export function folderPath(folder: string): string {
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
