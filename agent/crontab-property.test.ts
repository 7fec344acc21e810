// The property the agent's crontab handling stands on: crontabs of every shape survive any
// sequence of syncs, and a final uninstall, byte for byte. Each step goes through the real
// crontab binary (install, read back, reconcile, install …), because crontab(1) has its own
// opinions about bytes (see agent/host.ts).
//
// Eve is a service user (system user crontopus-t3, created for this test) whose crontab
// holds lines of her own. Each case starts from a random crontab of hers and runs up to six
// syncs with random desired sets (jobs added, changed, paused, removed), with hand edits in
// between: she adds lines below the managed section, or edits a managed line. After every
// sync her lines must be the same, in the same order, above the section, and the section
// must be what a sync of her lines alone would write (so hand edits are undone); a hand edit
// of a managed line must be reported as drift.
//
// Cases are generated from a seed; set CRONTOPUS_PROPERTY_SEED to replay one that failed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureUser, lockUser } from "../test/crontab-users";
import { reconcile, uninstall, type DesiredEntry, type HostCron } from "./crontab";
import { SystemCrontab } from "./host";

const EVE = "crontopus-t3";
const SPOOL = "/var/spool/cron/crontabs";
const CASES = 80;
const MAX_STEPS = 6;
const SEED = Number(process.env.CRONTOPUS_PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));

const isRoot = process.getuid?.() === 0;
const skipReason = Bun.which("crontab") === null
  ? "the crontab binary is not installed (apt-get install cron)"
  : !isRoot
    ? "not root: this test creates user crontopus-t3 and rewrites its crontab"
    : undefined;
if (skipReason) console.warn(`agent/crontab-property.test.ts: skipping: ${skipReason}`);

const io = new SystemCrontab();
/** How often each shape and edit came up, so a generator that stopped producing one fails the last test. */
const seen = { noCrontab: 0, noFinalNewline: 0, crlf: 0, cronTz: 0, linesAdded: 0, lineEdited: 0, paused: 0, removed: 0 };

// ---------------------------------------------------------------------------------------
// Random crontabs

/** mulberry32: small, seedable, good enough to pick lines. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    chance: (p: number) => next() < p,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}
type Rng = ReturnType<typeof prng>;

// Lines Debian's crontab accepts. It refuses a line of just "\r", so blank lines never get one.
const COMMENTS = [
  "# m h  dom mon dow   command",
  "#no space after the hash",
  "   # indented comment",
  "\t# tab-indented comment",
  "# 100% done \\ with a backslash",
  "#0 4 * * * /usr/bin/disabled-job",
  "# café ☕ – non-ASCII",
  "#",
];
const VARIABLES = [
  "MAILTO=eve@example.com",
  'MAILTO=""',
  "SHELL=/bin/bash",
  "PATH=/usr/local/bin:/usr/bin:/bin",
  " FOO = bar baz ",
  "'QUOTED'=\"x y\"",
  "CRON_TZ=America/New_York",
  "HOME=/srv/eve",
];
const ENTRIES = [
  "0 5 * * * /usr/bin/nightly-report",
  "*/5\t*\t*\t*\t*\t/usr/bin/tick  --fast",
  "@reboot /usr/bin/start-thing",
  "@daily\t/usr/bin/rotate > /dev/null 2>&1",
  "30 6 * * MON-FRI date +\\%F >> /tmp/eve.log",
  "15 3 1 jan * echo 'ha%ppy new year'",
  "0 */2 * * * /bin/echo tab\there  ",
  "1 2 3 4 5 /usr/bin/once-a-year",
];
const BLANKS = ["", "   ", "\t", " \t "];

function userLine(rng: Rng, crlf: boolean): string {
  const kind = rng.int(10);
  if (kind < 2) return rng.pick(BLANKS);
  const line = rng.pick(kind < 5 ? COMMENTS : kind < 7 ? VARIABLES : ENTRIES);
  return crlf || rng.chance(0.1) ? line + "\r" : line;
}

interface Original {
  /** null: no crontab. */
  text: string | null;
  /** Written into the spool file, as an admin's editor would leave it: crontab(1) refuses it. */
  noFinalNewline: boolean;
}

function randomOriginal(rng: Rng): Original {
  const shape = rng.int(20);
  if (shape === 0) return { text: null, noFinalNewline: false };
  if (shape === 1) return { text: "", noFinalNewline: false };
  const crlf = rng.chance(0.2);
  const lines = Array.from({ length: 1 + rng.int(8) }, () => userLine(rng, crlf));
  if (shape <= 4 && existsSync(SPOOL)) {
    // Without a final newline the last line must not be blank, or there would be nothing to miss.
    if (lines.at(-1)!.trim() === "") lines.push(rng.pick(ENTRIES));
    return { text: lines.join("\n"), noFinalNewline: true };
  }
  return { text: lines.join("\n") + "\n", noFinalNewline: false };
}

// ---------------------------------------------------------------------------------------
// Random desired sets

const DEBIAN_UTC: HostCron = { timezone: "UTC", supportsCronTz: false, flavor: "debian" };
const CRONIE_BERLIN: HostCron = { timezone: "Europe/Berlin", supportsCronTz: true, flavor: "cronie" };
const SCHEDULES = ["0 2 * * *", "*/15 * * * *", "30 6 * * MON-FRI", "@hourly", "@daily", "5 4 1 * *", "0 0 * * 0"];
const COMMANDS = ["/opt/backup.sh --full", "/opt/cleanup.sh", "date +%s >> /tmp/eve-runs", "echo 'a\tb'", "/opt/report.sh 100%"];
const REFS = ["ops/backup", "web/cleanup", "finance/report", "ops/rotate", "eve/misc"];

function uuid(rng: Rng): string {
  const hex = () => rng.int(16).toString(16);
  const part = (n: number) => Array.from({ length: n }, hex).join("");
  return `${part(8)}-${part(4)}-7${part(3)}-a${part(3)}-${part(12)}`;
}

function randomEntry(rng: Rng, jobId: string, host: HostCron): DesiredEntry {
  const zones = host.supportsCronTz ? ["UTC", "Europe/Berlin", "America/New_York"] : ["UTC", "UTC", "Europe/Berlin"];
  return {
    jobId,
    ref: rng.pick(REFS),
    schedule: rng.pick(SCHEDULES),
    timezone: rng.pick(zones),
    command: `/usr/local/bin/crontopus exec --job ${jobId} -- ${rng.pick(COMMANDS)}`,
    paused: rng.chance(0.2),
  };
}

/** The next desired set: one to three jobs added, changed, paused or resumed, or removed. */
function mutate(rng: Rng, desired: DesiredEntry[], pool: string[], host: HostCron): DesiredEntry[] {
  const next = desired.map((e) => ({ ...e }));
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const action = rng.int(4);
    const absent = pool.filter((id) => !next.some((e) => e.jobId === id));
    if (action === 0 && absent.length > 0) {
      next.push(randomEntry(rng, rng.pick(absent), host));
    } else if (action === 1 && next.length > 0) {
      const i = rng.int(next.length);
      const fresh = randomEntry(rng, next[i]!.jobId, host);
      next[i] = { ...next[i]!, ...rng.pick([{ schedule: fresh.schedule }, { command: fresh.command }, { ref: fresh.ref }, { timezone: fresh.timezone }]) };
    } else if (action === 2 && next.length > 0) {
      const e = next[rng.int(next.length)]!;
      e.paused = !e.paused;
    } else if (action === 3 && next.length > 0) {
      next.splice(rng.int(next.length), 1);
    }
  }
  return next;
}

// ---------------------------------------------------------------------------------------
// Oracles, independent of agent/crontab.ts's parser

const BEGIN = "# crontopus:begin";
const END = "# crontopus:end";

function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** The lines above the managed section (all of them when there is none). */
function linesAboveSection(text: string): string[] {
  const lines = splitLines(text);
  const begin = lines.findIndex((l) => l.startsWith(BEGIN));
  return begin < 0 ? lines : lines.slice(0, begin);
}

/** What a user's crontab-without-the-agent becomes when they add lines at the end of it. */
function appendLines(userText: string, added: string[]): string {
  const base = userText === "" || userText.endsWith("\n") ? userText : userText + "\n";
  return base + added.map((l) => l + "\n").join("");
}

/** Writes Eve's spool file directly, with crontab's header, as a hand edit of it would. */
function writeSpool(text: string): void {
  const path = join(SPOOL, EVE);
  writeFileSync(path, "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (hand edit)\n# (Cron version -- test)\n" + text, { mode: 0o600 });
  const uid = Number(spawnSync("id", ["-u", EVE], { encoding: "utf8" }).stdout.trim());
  const gid = Number(/^crontab:[^:]*:(\d+):/m.exec(readFileSync("/etc/group", "utf8"))?.[1] ?? 0);
  chownSync(path, uid, gid);
}

// ---------------------------------------------------------------------------------------

let unlock = () => {};

beforeAll(async () => {
  if (skipReason) return;
  unlock = await lockUser(EVE);
  ensureUser(EVE);
}, 70_000);

afterAll(async () => {
  if (skipReason) return;
  await io.remove(EVE);
  unlock();
});

async function runCase(seed: number): Promise<void> {
  const rng = prng(seed);
  const host = rng.chance(0.7) ? DEBIAN_UTC : CRONIE_BERLIN;
  const original = randomOriginal(rng);
  const pool = Array.from({ length: 6 }, () => uuid(rng));
  const log: string[] = [`original ${JSON.stringify(original.text)}`];
  if (original.text === null) seen.noCrontab++;
  if (original.noFinalNewline) seen.noFinalNewline++;
  if (original.text?.includes("\r\n")) seen.crlf++;
  if (host.supportsCronTz) seen.cronTz++;

  try {
    // Eve's crontab before the agent's first sync.
    await io.remove(EVE);
    if (original.noFinalNewline) writeSpool(original.text!);
    else if (original.text !== null) await io.install(original.text, EVE);
    expect(await io.read(EVE)).toBe(original.text);

    // userText: Eve's crontab as it would be without the agent, byte for byte.
    let userText = original.text ?? "";
    let desired: DesiredEntry[] = [];
    let installedIds: string[] = [];
    let editedJob: string | undefined;
    let eolAddedByInstall = false;
    let linesAdded = false;
    const steps = 1 + rng.int(MAX_STEPS);

    for (let step = 0; step < steps; step++) {
      desired = mutate(rng, desired, pool, host);
      const raw = await io.read(EVE);
      const current = raw ?? "";
      log.push(`step ${step} desired ${JSON.stringify(desired)}`, `current ${JSON.stringify(current)}`);
      const r = reconcile(current, desired, host);

      // Eve's lines: the same, in the same order, above the section; the section last.
      expect(linesAboveSection(r.text)).toEqual(splitLines(userText));
      if (desired.length > 0) expect(splitLines(r.text).at(-1)!.startsWith(END)).toBe(true);
      // The section is what a sync of her lines alone writes: hand edits of it are undone.
      expect(r.text).toBe(reconcile(userText, desired, host).text);
      expect(uninstall(r.text)).toBe(userText);

      for (const result of r.results) {
        if (result.jobId === editedJob) {
          expect(result.state).toBe("drifted");
          expect(result.message).toEndWith("restored");
        } else {
          expect(result).toMatchObject({ state: "applied" });
        }
      }
      const desiredIds = new Set(desired.map((e) => e.jobId));
      expect(r.removed).toEqual(installedIds.filter((id) => !desiredIds.has(id)).sort());
      seen.removed += r.removed.length;
      seen.paused += desired.filter((e) => e.paused).length;

      let installed: string | null = r.changed ? r.text : raw;
      if (r.changed) {
        await io.install(r.text, EVE);
        // crontab(1) adds a missing final newline (agent/host.ts); that needs a text without a
        // section, left without its final newline by the user.
        if (!r.text.endsWith("\n") && r.text !== "") {
          installed = r.text + "\n";
          userText += "\n";
          eolAddedByInstall = true;
        }
      }
      expect(await io.read(EVE)).toBe(installed);
      installedIds = [...desiredIds];
      editedJob = undefined;

      // Hand edits between syncs, as Eve would make with crontab -e.
      if (desired.length > 0 && rng.chance(0.5)) {
        const text = (await io.read(EVE))!;
        if (rng.chance(0.5)) {
          // She adds lines below the managed section.
          const added = Array.from({ length: 1 + rng.int(3) }, () => userLine(rng, false));
          if (added.at(-1)!.trim() === "") added.push(rng.pick(ENTRIES));
          log.push(`hand edit: add ${JSON.stringify(added)}`);
          await io.install(text + added.map((l) => l + "\n").join(""), EVE);
          userText = appendLines(userText, added);
          linesAdded = true;
          seen.linesAdded++;
        } else {
          // She edits the entry line of a managed job.
          const job = rng.pick(desired);
          const lines = splitLines(text);
          const i = lines.findIndex((l) => l.includes(`--job ${job.jobId} `) && !l.startsWith("# crontopus:job"));
          const line = lines[i]!;
          lines[i] = rng.pick([line.startsWith("#") ? line.slice(1) : "#" + line, line + " --verbose"]);
          log.push(`hand edit: ${JSON.stringify(line)} -> ${JSON.stringify(lines[i])}`);
          await io.install(lines.join("\n") + "\n", EVE);
          editedJob = job.jobId;
          seen.lineEdited++;
        }
      }
    }

    // Uninstall: Eve's crontab as if the agent had never been there.
    const final = uninstall((await io.read(EVE)) ?? "");
    log.push(`final ${JSON.stringify(final)}`);
    expect(final).toBe(userText);
    if (!linesAdded) {
      // Byte for byte her original, but for the final newline crontab(1) insisted on.
      expect(final).toBe(eolAddedByInstall ? original.text + "\n" : (original.text ?? ""));
    }
    if (original.text === null && final === "") {
      await io.remove(EVE);
      expect(await io.read(EVE)).toBeNull();
    } else {
      await io.install(final, EVE);
      expect(await io.read(EVE)).toBe(final.endsWith("\n") || final === "" ? final : final + "\n");
    }
  } catch (e) {
    console.error(`case seed ${seed} failed; replay with CRONTOPUS_PROPERTY_SEED=${SEED}\n  ${log.join("\n  ")}`);
    throw e;
  }
}

// Each case runs once, by its own test or by the coverage check, whichever comes first
// (the order is random under --randomize).
const ran = new Map<number, Promise<void>>();
function runOnce(seed: number): Promise<void> {
  if (!ran.has(seed)) ran.set(seed, runCase(seed));
  return ran.get(seed)!;
}
const caseSeeds = Array.from({ length: CASES }, (_, i) => (SEED + i * 0x9e3779b1) >>> 0);

describe(`random crontabs survive syncs and uninstall through the real crontab (seed ${SEED})`, () => {
  caseSeeds.forEach((caseSeed, i) => {
    (skipReason ? test.skip : test)(`case ${i} (case seed ${caseSeed})`, () => runOnce(caseSeed));
  });

  (skipReason ? test.skip : test)(
    "the cases covered every shape and hand edit",
    async () => {
      for (const caseSeed of caseSeeds) await runOnce(caseSeed);
      for (const [shape, count] of Object.entries(seen)) expect({ shape, count }).not.toEqual({ shape, count: 0 });
    },
    120_000,
  );
});
