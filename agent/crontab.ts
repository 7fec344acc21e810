// The crontab text transformation behind the Crontopus agent. Pure: strings in, strings out;
// no I/O and no clock. agent/host.ts reads and installs crontabs; this file decides what they
// say. The agent never runs jobs itself: cron does, through lines that call
// `crontopus exec --job <id> -- <command>`.
//
// Safety rules, in order of importance
//   1. A line the agent does not own is never changed: same bytes (tabs, trailing spaces,
//      "\r" of CRLF files), same order, same final-newline state. Owned lines are the ones
//      listed under "Ownership" below; everything else is the user's.
//   2. Nothing the agent writes changes the meaning of a user's line. The managed section goes
//      after every user line, and cron's environment settings only apply to the lines after
//      them, so lines above it cannot be affected; lines a user later adds below it are
//      protected by the restore lines at its end (see "Environment").
//   3. Hand edits to owned lines are detected (hashes) and reported as drift, then undone.
//   4. A job whose line cannot be written safely is reported as an error and not written.
//
// The managed section (always the last lines of the crontab, always ending with "\n")
//
//   SHELL=/bin/zsh                                            <- the user's lines, untouched
//   0 5 * * * /usr/bin/nightly-report
//   # crontopus:begin -- managed by the Crontopus agent: ...     begin line
//   SHELL=/bin/sh                                                preamble
//   # crontopus:job 0192f0c4-7d1e-7c3a-9a51-3f8e2b6d9c10 3f2a9c1b7e0d backups/nightly
//   CRON_TZ=Europe/Berlin                                        cron-tz hosts only
//   0 2 * * * /usr/local/bin/crontopus exec --job 0192f0c4-… -- /opt/backup.sh --full
//   # crontopus:job 0192f0c5-… 9e0d44b1c2a7 web/cleanup
//   CRON_TZ=UTC                                                  cron-tz hosts only
//   #*/15 * * * * /usr/local/bin/crontopus exec --job 0192f0c5-… -- /opt/cleanup.sh   (paused)
//   SHELL=/bin/zsh                                               restore lines, see Environment
//   CRON_TZ=UTC                                                  cron-tz hosts only
//   # crontopus:end jobs=2 digest=5e1c0a9f3b2d                   end line
//
// - A job's block is its marker line `# crontopus:job <jobId> <hash> <ref>` followed by the
//   lines written for it: an optional `CRON_TZ=<zone>` line, then the entry line (prefixed
//   with "#" while the job is paused). <hash> is the first 12 hex digits of SHA-256 over the
//   job id, the ref as shown and those lines, so a changed schedule or command, a commented
//   or uncommented line, a deleted entry line or an edited marker all fail the check.
// - Blocks are sorted by ref, then job id. A block the agent would write identically is left
//   byte for byte as it is.
// - The end line records how many blocks the section held and a digest of their job ids, so
//   a block deleted by hand (marker and entry line together) is still reported as drift (when
//   at most two went and all of them are still desired).
// - If the user's text did not end with a newline, the agent adds one before the begin line
//   and says so at the end of the begin line (NO_EOL_NOTE); uninstall takes it away again.
//
// Ownership: the agent owns the begin and end lines; every marker line and the one or two
// lines under it (a CRON_TZ= line, then a non-blank entry line); the SHELL=/bin/sh line under
// the begin line (or directly above a marker); the SHELL= and CRON_TZ= lines directly above
// an end line; and, between its first and last owned line, any line that names a job id the
// agent manages or has "--job <id>" in it (the entry line of a block whose marker was
// deleted), plus a CRON_TZ= line directly above such a line. Any other line inside the
// section, such as a comment a user added between two blocks, is the user's: it is kept, and
// moves above the begin line.
//
// Environment
// - SHELL: cron runs each command with `$SHELL -c`. A user's SHELL=/usr/bin/fish (or
//   /bin/false) above the section would change or break the managed lines, so the section
//   sets SHELL=/bin/sh first. At its end it restores the user's value by copying their last
//   SHELL line verbatim (no line is needed when they never set it: cron's default is /bin/sh).
// - CRON_TZ (cron-tz hosts): every block sets its own zone, because a zone set by a block or
//   by the user would otherwise carry over to the next entry. At the end the section restores
//   the user's last CRON_TZ line verbatim, or writes CRON_TZ=<host zone> when they never set
//   one (cron cannot unset a variable; the host's zone is what an unset CRON_TZ means).
// - PATH, MAILTO, HOME and the rest are left alone: managed lines start with an absolute path
//   and do not depend on them, and the user's command is meant to see the user's environment.
// With both restores in place the section changes no variable for the lines after it, so
// moving a user's lines from below the section to above it (which every sync does) keeps
// their meaning.
//
// Time zones: how a job's schedule goes on the host (CRON_TZ=, as written, or a superset that
// `crontopus exec` gates with isDue) is decided in hostschedule.ts.
//
// Escaping: cron ends the command at an unescaped "%" (the rest becomes stdin) and reads a
// backslash before "%" as an escape; Debian's cron also turns "\\" into "\" (cronie does not).
// escapeCommand writes the command so that cron hands exactly the given text to /bin/sh.
//
// Errors (per job; nothing is written for it): a command with a newline, carriage return, NUL
// or other control character (tab is fine), one that does not name its job id (the agent
// recognises an entry line by it when the marker is gone), one longer than 998 bytes as
// written (Debian's "command too long"), backslashes the host's cron cannot pass through, a
// schedule outside classic cron syntax (@every, @reboot, 6 fields, a date that never comes),
// an unknown zone, a job listed twice, or a crontab that would pass Debian's 10,000 lines.
// A job in error keeps its current block if that block is intact: a bad update does not stop
// a job that was running.
import { createHash } from "node:crypto";
import { Invalid } from "../src/errors";
import { checkZone, cronSchedule, hostSchedule } from "./hostschedule";

export interface DesiredEntry {
  jobId: string;
  /** "namespace/name", shown on the marker line for humans. */
  ref: string;
  /** 5-field cron or @hourly … @yearly, in `timezone`; never @every (ping-only). */
  schedule: string;
  timezone: string;
  /** The full command for the line, e.g. "/usr/local/bin/crontopus exec --job <id> -- /opt/backup.sh". */
  command: string;
  /** Written commented out, still marked. */
  paused: boolean;
}

/**
 * Which cron reads the crontab, for command escaping: "debian" is Debian's and Ubuntu's
 * `cron` package (Vixie cron 3.0pl1 with Debian's patches), "cronie" is cronie (Fedora, RHEL,
 * Arch, SUSE). Unknown: only commands both read the same way are written.
 */
export type CronFlavor = "debian" | "cronie";

export interface HostCron {
  /** The host's IANA zone, the one cron schedules in. */
  timezone: string;
  /** cronie yes, Debian's Vixie cron no. */
  supportsCronTz: boolean;
  flavor?: CronFlavor;
}

export type JobState = "applied" | "drifted" | "error";

export interface JobResult {
  jobId: string;
  state: JobState;
  message?: string;
}

export interface ReconcileResult {
  text: string;
  changed: boolean;
  /** One per desired entry, in the order given. */
  results: JobResult[];
  /** Job ids whose managed lines were removed because the job is no longer desired. */
  removed: string[];
}

export interface DiscoveredEntry {
  /** sha-256 prefix of the raw line; the n-th identical line gets "-n" appended. */
  id: string;
  /** 1-based. */
  line: number;
  /** "@reboot", "@daily", … or the five fields joined by single spaces. */
  schedule: string;
  /** As written in the crontab (cron's "\%" escapes included), trailing blanks removed. */
  command: string;
  raw: string;
}

/** Debian's cron refuses a command of 999 bytes or more ("command too long"), measured as written. */
export const MAX_COMMAND_BYTES = 998;
/** Debian's crontab refuses to install more lines than this. */
export const MAX_CRONTAB_LINES = 10_000;

const BEGIN = "# crontopus:begin";
const BEGIN_LINE = `${BEGIN} -- managed by the Crontopus agent: lines down to crontopus:end are rewritten on every sync; add yours above this line`;
const NO_EOL_NOTE = " (the agent added the final newline of the line above)";
const PREAMBLE = "SHELL=/bin/sh";
const MARKER_RE = /^# crontopus:job (\S+) ([0-9a-f]{12}) ([^\n]*)$/;
const END_RE = /^# crontopus:end(?: jobs=(\d+) digest=([0-9a-f]{12}))?$/;
const JOB_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const TOKEN_RE = /[A-Za-z0-9._:-]+/g;

// ---------------------------------------------------------------------------------------
// Reconcile, uninstall, discover

export function reconcile(current: string, desired: DesiredEntry[], host: HostCron): ReconcileResult {
  const hostTz = checkZone("host.timezone", host.timezone);
  const results: JobResult[] = [];
  const wanted = new Map<string, { index: number; ref: string; lines: string[] }>();
  const failed = new Map<string, { index: number; message: string }>();
  desired.forEach((entry, index) => {
    const jobId = String(entry.jobId);
    if (wanted.has(jobId) || failed.has(jobId)) {
      results.push({ jobId, state: "error", message: "the job is listed twice; only its first entry is used" });
      return;
    }
    try {
      wanted.set(jobId, { index, ...renderBlock(entry, host) });
      results.push({ jobId, state: "applied" });
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      failed.set(jobId, { index, message: e.message });
      results.push({ jobId, state: "error", message: e.message });
    }
  });

  const parsed = parseCrontab(current, new Set([...wanted.keys(), ...failed.keys()]));
  const found = new Map<string, FoundBlock[]>();
  for (const b of parsed.blocks) found.set(b.jobId, [...(found.get(b.jobId) ?? []), b]);
  const present = new Set([...found.keys(), ...parsed.orphans.keys()]);
  const vanished = findVanished(parsed.record, present, [...wanted.keys()].filter((id) => !present.has(id)));

  const blocks: SectionBlock[] = [];
  for (const [jobId, want] of wanted) {
    const copies = found.get(jobId) ?? [];
    const orphans = parsed.orphans.get(jobId) ?? 0;
    let drift: string | undefined;
    let message = "added";
    if (copies.length === 1 && orphans === 0 && copies[0]!.intact) {
      message = sameLines(copies[0]!.lines, want.lines) ? "unchanged" : "updated";
    } else if (copies.length > 1 || (copies.length === 1 && orphans > 0)) {
      drift = "its lines were copied by hand";
    } else if (copies.length === 1) {
      drift = copies[0]!.slots.some((l) => !l.startsWith("CRON_TZ=")) ? "its lines were edited by hand" : "its entry line was deleted by hand";
    } else if (orphans > 0) {
      drift = "its # crontopus:job line was deleted by hand";
    } else if (vanished.has(jobId)) {
      drift = "its lines were deleted by hand";
    }
    results[want.index] = drift
      ? { jobId, state: "drifted", message: `${drift}; restored` }
      : { jobId, state: "applied", message };
    blocks.push({ jobId, ref: want.ref, lines: want.lines, index: want.index });
  }
  for (const [jobId, fail] of failed) {
    const copies = found.get(jobId) ?? [];
    // Keep the last good line running rather than stop a job over a bad update; lines edited
    // by hand cannot be regenerated, so those go.
    if (copies.length === 1 && copies[0]!.intact && !parsed.orphans.has(jobId)) {
      blocks.push({ jobId, ref: copies[0]!.ref, lines: copies[0]!.lines, index: fail.index });
      results[fail.index]!.message = `${fail.message}; its current line was left as it is`;
    } else if (present.has(jobId)) {
      results[fail.index]!.message = `${fail.message}; its hand-edited lines were removed`;
    }
  }
  blocks.sort((a, b) => compare(a.ref, b.ref) || compare(a.jobId, b.jobId));

  const kept = parsed.lines.filter((_, i) => !parsed.owned[i]);
  let section = sectionLines(blocks, kept, hostTz);
  // Debian's crontab refuses longer files; drop blocks from the end rather than fail them all.
  while (blocks.length > 0 && kept.length + section.length > MAX_CRONTAB_LINES) {
    const dropped = blocks.pop()!;
    results[dropped.index] = {
      jobId: dropped.jobId,
      state: "error",
      message: `not written: the crontab would have more than ${MAX_CRONTAB_LINES} lines, the most cron accepts`,
    };
    section = sectionLines(blocks, kept, hostTz);
  }

  const keptEol = keptEndsWithNewline(parsed);
  const text = blocks.length > 0 ? joinWithSection(kept, keptEol, section) : joinLines(kept, keptEol);
  const removed = [...present].filter((id) => !wanted.has(id) && !failed.has(id)).sort(compare);
  return { text, changed: text !== current, results, removed };
}

/** The crontab without anything the agent wrote: byte for byte the user's text, including a missing final newline. */
export function uninstall(current: string): string {
  const parsed = parseCrontab(current, new Set());
  return joinLines(
    parsed.lines.filter((_, i) => !parsed.owned[i]),
    keptEndsWithNewline(parsed),
  );
}

/** The user's own cron entries (not comments, variables, blank lines or managed lines). */
export function discover(current: string): DiscoveredEntry[] {
  const parsed = parseCrontab(current, new Set());
  const seen = new Map<string, number>();
  const out: DiscoveredEntry[] = [];
  parsed.lines.forEach((raw, i) => {
    if (parsed.owned[i] || lineKind(raw) !== "entry") return;
    const entry = parseEntryLine(raw);
    if (!entry) return;
    const hash = sha12(raw);
    const n = (seen.get(hash) ?? 0) + 1;
    seen.set(hash, n);
    out.push({ id: n === 1 ? hash : `${hash}-${n}`, line: i + 1, schedule: entry.schedule, command: entry.command, raw });
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// Lines

/** `<schedule> <command escaped for cron>`, or Invalid when either cannot go on a crontab line. */
export function formatLine(schedule: string, command: string, flavor?: CronFlavor): string {
  return `${cronSchedule("schedule", schedule, "UTC").expr} ${commandForLine(command, flavor)}`;
}

/**
 * The command as it must be written so that cron hands exactly `command` to the shell:
 * "%" becomes "\%", and backslashes next to a "%" (and, on Debian, runs of backslashes) are
 * doubled as that cron needs. Throws Invalid for what the flavour cannot express.
 */
export function escapeCommand(command: string, flavor?: CronFlavor): string {
  let out = "";
  let i = 0;
  while (i < command.length) {
    const ch = command[i]!;
    if (ch === "%") {
      out += "\\%";
      i++;
      continue;
    }
    if (ch !== "\\") {
      out += ch;
      i++;
      continue;
    }
    let k = 0;
    while (command[i + k] === "\\") k++;
    const beforePercent = command[i + k] === "%";
    if (flavor === "debian") {
      // Debian reads "\\" as "\" and "\%" as "%", pairing backslashes from the left.
      out += beforePercent ? `${"\\".repeat(2 * k + 1)}%` : "\\".repeat(2 * k - 1);
    } else if (flavor === "cronie") {
      // cronie removes only the backslash of "\%"; a pair of backslashes passes through, so
      // an odd run of them before "%" has no spelling.
      if (beforePercent && k % 2 === 1) {
        throw new Invalid("command", `has ${k === 1 ? "a backslash" : `${k} backslashes`} right before "%", which cronie cannot pass to the shell; write the % without them`);
      }
      out += beforePercent ? `${"\\".repeat(k + 1)}%` : "\\".repeat(k);
    } else {
      if (beforePercent || k > 1) {
        throw new Invalid("command", `has ${beforePercent ? 'a backslash before "%"' : "two backslashes in a row"}, which Debian's cron and cronie read differently, and the agent does not know which cron this host runs`);
      }
      out += "\\";
    }
    i += k + (beforePercent ? 1 : 0);
  }
  return out;
}

/**
 * What cron reads a line as: it skips lines of blanks (spaces and tabs only: a lone "\r" is an
 * error to Debian's cron) and "#" comments, tries a variable, else takes an entry.
 */
export function lineKind(line: string): "blank" | "comment" | "env" | "entry" {
  const rest = line.replace(/^[ \t]+/, "");
  if (rest === "") return "blank";
  if (rest.startsWith("#")) return "comment";
  return parseEnvLine(line) ? "env" : "entry";
}

/**
 * Name and value of an environment line, as Debian's cron and cronie read it (both use ISC
 * cron 4.1's parser: optional quotes, blanks around "="; `NAME=` with nothing after it is not
 * a variable, `NAME=""` is). null for anything else.
 */
export function parseEnvLine(line: string): { name: string; value: string } | null {
  let c = 0;
  while (line[c] === " " || line[c] === "\t") c++;
  if (c === line.length || line[c] === "#") return null;
  const NAMEI = 0, NAME = 1, EQ1 = 2, EQ2 = 3, VALUEI = 4, VALUE = 5, FINI = 6, ERROR = 7;
  let state = NAMEI;
  let quote = "";
  let name = "";
  let value = "";
  let intoValue = false;
  while (state !== ERROR && c < line.length) {
    const ch = line[c]!;
    if (state === NAMEI || state === VALUEI) {
      state++;
      if (ch === "'" || ch === '"') {
        quote = ch;
        c++;
        continue;
      }
    }
    if (state === NAME || state === VALUE) {
      if (quote) {
        if (ch === quote) {
          state++;
          c++;
          continue;
        }
        if (state === NAME && ch === "=") {
          state = ERROR;
          continue;
        }
      } else if (state === NAME) {
        if (isCSpace(ch)) {
          c++;
          state++;
          continue;
        }
        if (ch === "=") {
          state++;
          continue;
        }
      }
      if (intoValue) value += ch;
      else name += ch;
      c++;
      continue;
    }
    if (state === EQ1) {
      if (ch === "=") {
        state++;
        intoValue = true;
        quote = "";
      } else if (!isCSpace(ch)) state = ERROR;
      c++;
      continue;
    }
    // EQ2 and FINI skip blanks; anything else moves on (to VALUEI, or from FINI to ERROR).
    if (isCSpace(ch)) c++;
    else state++;
  }
  if (state !== FINI && !(state === VALUE && !quote)) return null;
  if (state === VALUE) value = value.replace(/[ \t\n\v\f\r]+$/, "");
  return { name, value };
}

function isCSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\v" || ch === "\f" || ch === "\r";
}

function parseEntryLine(raw: string): { schedule: string; command: string } | null {
  const line = raw.replace(/\s+$/, "");
  const macro = /^[ \t]*(@\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (macro) return { schedule: macro[1]!, command: macro[2] ?? "" };
  const five = /^[ \t]*([0-9*]\S*)[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (!five) return null;
  return { schedule: five.slice(1, 6).join(" "), command: five[6] ?? "" };
}

// ---------------------------------------------------------------------------------------
// Blocks and the section

interface SectionBlock {
  jobId: string;
  ref: string;
  lines: string[];
  index: number;
}

function renderBlock(entry: DesiredEntry, host: HostCron): { ref: string; lines: string[] } {
  const jobId = entry.jobId;
  if (typeof jobId !== "string" || !JOB_ID_RE.test(jobId)) {
    throw new Invalid("jobId", "expected letters, digits and . _ : - (a UUID), at most 128 characters");
  }
  const ref = displayRef(entry.ref);
  const tz = checkZone("timezone", entry.timezone);
  const plan = hostSchedule(entry.schedule, tz, host);
  const escaped = commandForLine(entry.command, host.flavor);
  // The id on the line lets the agent recognise it even after its marker is deleted.
  if (!tokens(entry.command).includes(jobId)) {
    throw new Invalid("command", `must name the job id ${jobId} (as "crontopus exec --job ${jobId} -- …" does) so the agent can recognise its line`);
  }
  const entryLine = `${entry.paused === true ? "#" : ""}${plan.schedule} ${escaped}`;
  const slots = plan.strategy === "cron-tz" ? [`CRON_TZ=${tz}`, entryLine] : [entryLine];
  return { ref, lines: [`# crontopus:job ${jobId} ${blockHash(jobId, ref, slots)} ${ref}`, ...slots] };
}

/** The command as written on the line: checked, escaped, within cron's length limit. */
function commandForLine(command: unknown, flavor: CronFlavor | undefined): string {
  const escaped = escapeCommand(checkCommand(command), flavor);
  const bytes = Buffer.byteLength(escaped, "utf8");
  if (bytes > MAX_COMMAND_BYTES) {
    throw new Invalid("command", `is ${bytes} bytes as written for cron; cron accepts at most ${MAX_COMMAND_BYTES}`);
  }
  return escaped;
}

function checkCommand(command: unknown): string {
  if (typeof command !== "string") throw new Invalid("command", "expected a string");
  if (command.trim() === "") throw new Invalid("command", "is empty");
  const control = /[\x00-\x08\x0a-\x1f\x7f]/.exec(command);
  if (control) {
    const names: Record<string, string> = { "\n": "a newline", "\r": "a carriage return", "\0": "a NUL byte" };
    const what = names[control[0]] ?? `the control character U+${control[0].charCodeAt(0).toString(16).padStart(4, "0")}`;
    throw new Invalid("command", `contains ${what}; a crontab entry is one line of text`);
  }
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(command)) {
    throw new Invalid("command", "is not valid Unicode text");
  }
  return command;
}

/** The ref as shown on a marker line: one line, no blanks, at most 200 characters. */
function displayRef(ref: unknown): string {
  const text = (typeof ref === "string" ? ref : "").replace(/[\s\x00-\x1f\x7f]/g, "_").slice(0, 200);
  return text === "" ? "-" : text;
}

function blockHash(jobId: string, ref: string, slots: string[]): string {
  return sha12(["crontopus-block-v1", jobId, ref, ...slots].join("\n"));
}

function idsDigest(ids: Iterable<string>): string {
  return sha12([...ids].sort(compare).join("\n"));
}

function sha12(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

function sectionLines(blocks: SectionBlock[], kept: string[], hostTz: string): string[] {
  const lines = [BEGIN_LINE, PREAMBLE];
  for (const b of blocks) lines.push(...b.lines);
  const userShell = kept.findLast((l) => parseEnvLine(l)?.name === "SHELL");
  if (userShell !== undefined) lines.push(userShell);
  if (blocks.some((b) => b.lines.some((l) => l.startsWith("CRON_TZ=")))) {
    lines.push(kept.findLast((l) => parseEnvLine(l)?.name === "CRON_TZ") ?? `CRON_TZ=${hostTz}`);
  }
  lines.push(`# crontopus:end jobs=${blocks.length} digest=${idsDigest(blocks.map((b) => b.jobId))}`);
  return lines;
}

// ---------------------------------------------------------------------------------------
// Parsing what is there

interface FoundBlock {
  jobId: string;
  ref: string;
  slots: string[];
  lines: string[];
  intact: boolean;
}

interface Parsed {
  lines: string[];
  eol: boolean;
  owned: boolean[];
  blocks: FoundBlock[];
  /** Lines naming a managed job id outside any block, per job id. */
  orphans: Map<string, number>;
  /** The last begin line says the agent added the final newline of the user's text. */
  noEol: boolean;
  record?: { count: number; digest: string };
}

function parseCrontab(text: string, knownIds: ReadonlySet<string>): Parsed {
  const { lines, eol } = splitLines(text);
  const n = lines.length;
  const ids = new Set(knownIds);
  for (const line of lines) {
    const marker = MARKER_RE.exec(line);
    if (marker) ids.add(marker[1]!);
  }
  const owned: boolean[] = new Array(n).fill(false);
  const blocks: FoundBlock[] = [];
  let noEol = false;
  let record: Parsed["record"];
  let openBegin = -1;
  let i = 0;
  while (i < n) {
    const line = lines[i]!;
    if (isBegin(line)) {
      owned[i] = true;
      noEol = line.trimEnd().endsWith(NO_EOL_NOTE);
      openBegin = i;
      i++;
      if (i < n && lines[i]!.trimEnd() === PREAMBLE) owned[i++] = true;
      continue;
    }
    const end = END_RE.exec(line.trimEnd());
    if (end) {
      owned[i] = true;
      record = end[1] === undefined ? undefined : { count: Number(end[1]), digest: end[2]! };
      claimRestoreLines(lines, owned, i - 1, -1);
      openBegin = -1;
      i++;
      continue;
    }
    const marker = MARKER_RE.exec(line);
    if (marker) {
      owned[i] = true;
      const slots: string[] = [];
      let j = i + 1;
      if (j < n && lines[j]!.startsWith("CRON_TZ=")) {
        owned[j] = true;
        slots.push(lines[j++]!);
      }
      // Not the entry line of another job whose marker was deleted.
      const named = j < n ? namedJob(lines[j]!, ids) : undefined;
      if (j < n && isEntrySlot(lines[j]!) && (named === undefined || named === marker[1])) {
        owned[j] = true;
        slots.push(lines[j++]!);
      }
      const [, jobId, hash, ref] = marker as unknown as [string, string, string, string];
      blocks.push({ jobId, ref, slots, lines: [line, ...slots], intact: blockHash(jobId, ref, slots) === hash });
      i = j;
      continue;
    }
    // The preamble of a section whose begin line was deleted.
    if (line.trimEnd() === PREAMBLE && i + 1 < n && MARKER_RE.test(lines[i + 1]!)) owned[i] = true;
    i++;
  }
  // A section whose end line was deleted: its restore lines follow its last block.
  if (openBegin >= 0) claimRestoreLines(lines, owned, owned.lastIndexOf(true) + 1, +1);

  const orphans = new Map<string, number>();
  const first = owned.indexOf(true);
  const last = owned.lastIndexOf(true);
  for (let k = first + 1; first >= 0 && k < last; k++) {
    if (owned[k]) continue;
    const id = namedJob(lines[k]!, ids);
    if (id === undefined) continue;
    owned[k] = true;
    orphans.set(id, (orphans.get(id) ?? 0) + 1);
    if (!owned[k - 1] && lines[k - 1]!.startsWith("CRON_TZ=")) owned[k - 1] = true;
  }
  return { lines, eol, owned, blocks, orphans, noEol, record };
}

/** The job a line names: a known job id, or (for jobs the agent no longer knows) the id after --job. */
function namedJob(line: string, ids: ReadonlySet<string>): string | undefined {
  const words = tokens(line);
  const known = words.find((t) => ids.has(t));
  if (known !== undefined) return known;
  const flag = words.indexOf("--job");
  const next = flag >= 0 ? words[flag + 1] : undefined;
  return next !== undefined && JOB_ID_RE.test(next) ? next : undefined;
}

/** Runs of the characters job ids are made of: "--job=0192…" gives "--job" and "0192…". */
function tokens(line: string): string[] {
  return line.match(TOKEN_RE) ?? [];
}

/** Claims the SHELL= and CRON_TZ= lines next to an end line, walking from `from` in `step`. */
function claimRestoreLines(lines: string[], owned: boolean[], from: number, step: 1 | -1): void {
  const seen = new Set<string>();
  for (let k = from; k >= 0 && k < lines.length && !owned[k]; k += step) {
    const name = parseEnvLine(lines[k]!)?.name;
    if ((name !== "SHELL" && name !== "CRON_TZ") || seen.has(name)) return;
    seen.add(name);
    owned[k] = true;
  }
}

function isBegin(line: string): boolean {
  return line.startsWith(BEGIN) && (line.length === BEGIN.length || /\s/.test(line[BEGIN.length]!));
}

function isEntrySlot(line: string): boolean {
  return line.trim() !== "" && !isBegin(line) && !END_RE.test(line.trimEnd()) && !MARKER_RE.test(line);
}

/**
 * Which desired jobs lost their whole block to a hand edit: the end line's digest of job ids
 * tells, when one or two blocks went missing.
 */
function findVanished(record: Parsed["record"], present: Set<string>, candidates: string[]): Set<string> {
  const out = new Set<string>();
  if (!record || idsDigest(present) === record.digest) return out;
  const missing = record.count - present.size;
  const sorted = [...candidates].sort(compare);
  if (missing === 1) {
    const hit = sorted.find((id) => idsDigest([...present, id]) === record.digest);
    if (hit !== undefined) out.add(hit);
  } else if (missing === 2 && sorted.length <= 200) {
    for (let a = 0; a < sorted.length && out.size === 0; a++) {
      for (let b = a + 1; b < sorted.length; b++) {
        if (idsDigest([...present, sorted[a]!, sorted[b]!]) === record.digest) {
          out.add(sorted[a]!).add(sorted[b]!);
          break;
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Text and final newlines

function splitLines(text: string): { lines: string[]; eol: boolean } {
  if (text === "") return { lines: [], eol: true };
  const lines = text.split("\n");
  const eol = lines[lines.length - 1] === "";
  if (eol) lines.pop();
  return { lines, eol };
}

/** Whether the user's part ends with a newline once the agent's lines are taken out. */
function keptEndsWithNewline(p: Parsed): boolean {
  const n = p.lines.length;
  return n > 0 && p.owned[n - 1] ? !p.noEol : p.eol;
}

function joinLines(lines: string[], eol: boolean): string {
  return lines.length === 0 ? "" : lines.join("\n") + (eol ? "\n" : "");
}

function joinWithSection(kept: string[], keptEol: boolean, section: string[]): string {
  if (kept.length === 0) return section.join("\n") + "\n";
  const begin = keptEol ? section[0]! : section[0]! + NO_EOL_NOTE;
  return [...kept, begin, ...section.slice(1)].join("\n") + "\n";
}

function sameLines(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
