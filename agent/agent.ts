// The agent: heartbeat, fetch the desired state, reconcile the host's crontabs, write the
// caches `exec` reads, deliver spooled results, report. It never runs a job; cron does.
//
// Safety: nothing on the host changes unless the server answered the heartbeat and the
// desired state in this pass. A server that is down, answers an error or revoked the token
// leaves every entry as it is; the loop retries with backoff.
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, readdir, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { hostname as osHostname } from "node:os";
import { discover, reconcile, uninstall, type DesiredEntry, type HostCron, type JobResult } from "./crontab";
import { hostSchedule } from "./hostschedule";
import type { Account, CrontabIO } from "./host";
import { lookupAccount, saveBackupOnce } from "./host";
import { DEFAULT_OUTPUT_LIMIT, listSpool, syncJobCaches, userStateDir, writePrivate, type JobCache, type Owner, type SpoolRecord } from "./jobcache";
import type { DesiredJob, DesiredState } from "../src/agents/agents";
import { VERSION } from "../src/version";
import type { ApplyResult, DesiredTask } from "./schtasks";
import { cronToTriggers } from "./triggers";

// ---------------------------------------------------------------------------------------
// Config

export interface AgentConfig {
  server: string;
  token: string;
  agent_id: string;
  name: string;
  /** Overrides the default state directory. */
  state_dir?: string;
  /** The command that starts this binary in managed entries (absolute). Default: this process's own. */
  binary?: string[];
}

export class AgentConfigError extends Error {}

export async function readAgentConfig(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new AgentConfigError(`no agent config at ${path}: enroll first (crontopus agent enroll --server URL --token cte_…)`);
  }
  let cfg: Partial<AgentConfig>;
  try {
    cfg = JSON.parse(text);
  } catch {
    throw new AgentConfigError(`${path} is not valid JSON`);
  }
  for (const k of ["server", "token", "agent_id", "name"] as const) {
    if (typeof cfg[k] !== "string" || !cfg[k]) throw new AgentConfigError(`${path}: "${k}" is missing`);
  }
  return cfg as AgentConfig;
}

export async function writeAgentConfig(path: string, cfg: AgentConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writePrivate(path, JSON.stringify(cfg, null, 2) + "\n");
  await chmod(path, 0o600);
}

/** How managed entries start this binary: a compiled binary is itself; from source it is bun plus main.ts. */
export function selfCommand(): string[] {
  const exe = process.execPath;
  if (/(^|[\\/])bun(\.exe)?$/.test(exe)) return [exe, resolve(Bun.main)];
  return [exe];
}

// ---------------------------------------------------------------------------------------
// The server

export class ServerError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

export class AgentClient {
  constructor(
    readonly server: string,
    private readonly token: string,
    private readonly timeoutMs = 15_000,
  ) {}

  private async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.server.replace(/\/+$/, "")}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new ServerError(`cannot reach ${this.server}: ${(e as Error).message}`, null);
    }
    if (res.status >= 400) {
      let message = `${res.status}`;
      try {
        const j = (await res.json()) as { error?: { message?: string } };
        if (j.error?.message) message += ` ${j.error.message}`;
      } catch {}
      throw new ServerError(res.status === 401 ? `the server refused the agent token (revoked, or the agent was deleted): ${message}` : `server answered ${message}`, res.status);
    }
    return res;
  }

  async heartbeat(): Promise<{ interval_s: number; desired_etag: string }> {
    return (await (await this.call("POST", "/agent/heartbeat", { version: VERSION, hostname: osHostname() })).json()) as { interval_s: number; desired_etag: string };
  }

  /** null: not modified since `etag`. */
  async desiredState(etag: string | null): Promise<{ etag: string; state: DesiredState } | null> {
    const res = await this.call("GET", "/agent/desired-state", undefined, etag ? { "if-none-match": etag } : {});
    if (res.status === 304) return null;
    return { etag: res.headers.get("etag") ?? "", state: (await res.json()) as DesiredState };
  }

  async report(body: unknown): Promise<void> {
    await this.call("POST", "/agent/report", body);
  }

  async checkin(record: SpoolRecord): Promise<void> {
    await this.call("POST", "/checkins", record);
  }
}

// ---------------------------------------------------------------------------------------
// Local state: the agent's view, for `agent status` and for passes with a 304

export interface ManagedEntry {
  job_id: string;
  ref: string;
  user: string;
  state: JobResult["state"];
  message?: string;
}

export interface AgentState {
  server: string;
  agent_id: string;
  name: string;
  last_attempt_at: string | null;
  last_sync_at: string | null;
  last_error: string | null;
  etag: string | null;
  desired: DesiredState | null;
  /** Users whose crontab holds (or held) managed entries: a user no job needs any more is cleaned up. */
  users: string[];
  managed: ManagedEntry[];
  discovered: number;
  /** Spooled results still waiting for the server. */
  spooled: number;
}

export async function readAgentState(stateDir: string): Promise<AgentState | null> {
  try {
    return JSON.parse(await readFile(join(stateDir, "state.json"), "utf8")) as AgentState;
  } catch {
    return null;
  }
}

async function writeAgentState(stateDir: string, s: AgentState): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writePrivate(join(stateDir, "state.json"), JSON.stringify(s, null, 2) + "\n");
}

// ---------------------------------------------------------------------------------------
// One pass

export interface SyncDeps {
  client: AgentClient;
  io: CrontabIO;
  host: HostCron;
  stateDir: string;
  /** The account the agent runs as (host.ts currentAccount: from the uid, never from $USER). */
  account: Account;
  /** Whether it may manage other users' crontabs. */
  root: boolean;
  /** argv prefix of managed entries: the absolute path of this binary (and main.ts from source). */
  self: string[];
  dryRun?: boolean;
  /** Progress lines (dry-run diffs, changes). */
  print?: (line: string) => void;
  /** Looks up the account a user name stands for; null when there is no such user. Default: host.ts lookupAccount. */
  lookupAccount?: (user: string) => Account | null;
  /** Windows: the Task Scheduler backend (agent/schtasks.ts) instead of crontabs. */
  tasks?: { apply(desired: DesiredTask[]): Promise<ApplyResult[]> };
}

export interface SyncSummary {
  changed: string[];
  results: ManagedEntry[];
  discovered: number;
  delivered: number;
  spooled: number;
  notModified: boolean;
  /** The heartbeat interval the server asks for (null in a dry run). */
  intervalS: number | null;
}

/** Quotes a word for /bin/sh when it needs it. */
export function shQuote(word: string): string {
  return /^[A-Za-z0-9_\/.,:=@+%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The words after `--` on a managed line. A job's command is shell text: plain words go on the
 * line as they are; anything the shell would read as more than words (pipes, quotes, `&&`,
 * variables) is handed to /bin/sh -c, so it means inside `exec` what it would mean on its own.
 */
export function commandWords(job: Pick<DesiredJob, "command" | "args">): string {
  const full = [job.command, ...job.args.map(shQuote)].join(" ");
  return /^[A-Za-z0-9_\/.,:=@+% -]+$/.test(full) && full.trim() === full ? full : `/bin/sh -c ${shQuote(full)}`;
}

export function entryCommand(self: string[], jobId: string, stateDir: string | null, job: Pick<DesiredJob, "command" | "args">): string {
  const dir = stateDir ? ` --state-dir ${shQuote(stateDir)}` : "";
  return `${self.map(shQuote).join(" ")} exec --job ${jobId}${dir} -- ${commandWords(job)}`;
}

/** A plain line diff for --dry-run: what goes, what comes. */
function lineDiff(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  const inB = new Map<string, number>();
  for (const l of b) inB.set(l, (inB.get(l) ?? 0) + 1);
  const inA = new Map<string, number>();
  for (const l of a) inA.set(l, (inA.get(l) ?? 0) + 1);
  const out: string[] = [];
  for (const l of a) {
    const n = inB.get(l) ?? 0;
    if (n > 0) inB.set(l, n - 1);
    else out.push(`- ${l}`);
  }
  for (const l of b) {
    const n = inA.get(l) ?? 0;
    if (n > 0) inA.set(l, n - 1);
    else out.push(`+ ${l}`);
  }
  return out;
}

/**
 * Removes the lines of adopted entries (by their discovered id, mapped to the adopting job)
 * before the managed section takes them over, and says what it removed and where, so that
 * uninstall can give them back.
 */
function dropAdopted(text: string, adoptedBy: Map<string, string>, user: string): { text: string; dropped: AdoptedLine[] } {
  if (adoptedBy.size === 0) return { text, dropped: [] };
  const hits = discover(text).filter((d) => adoptedBy.has(d.id));
  if (hits.length === 0) return { text, dropped: [] };
  const lines = text.split("\n");
  const drop = new Set(hits.map((d) => d.line - 1));
  const dropped = hits.map((d) => ({ job_id: adoptedBy.get(d.id)!, user, line: d.line, prev: d.line > 1 ? lines[d.line - 2]! : null, raw: d.raw }));
  return { text: lines.filter((_, i) => !drop.has(i)).join("\n"), dropped };
}

// ---------------------------------------------------------------------------------------
// Adopted lines: what `agents adopt` took out of a user's crontab, kept to give back on uninstall

/** A user's line that an adopted job replaced, as it was. */
export interface AdoptedLine {
  job_id: string;
  /** Whose crontab it was in. */
  user: string;
  /** 1-based line number it had, and the line above it then (null: it was the first). */
  line: number;
  prev: string | null;
  raw: string;
}

const adoptedPath = (stateDir: string) => join(stateDir, "adopted.json");

export async function readAdopted(stateDir: string): Promise<AdoptedLine[]> {
  try {
    return JSON.parse(await readFile(adoptedPath(stateDir), "utf8")) as AdoptedLine[];
  } catch {
    return [];
  }
}

async function writeAdopted(stateDir: string, lines: AdoptedLine[]): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writePrivate(adoptedPath(stateDir), JSON.stringify(lines, null, 2) + "\n");
}

/**
 * Puts adopted lines back into a crontab the managed lines were taken out of: at the line
 * they had when the line above is still the same, else below the last copy of that line,
 * else at the end. A line already there (the user put it back) is not added twice.
 */
export function restoreAdopted(text: string, adopted: AdoptedLine[]): string {
  const lines = text === "" ? [] : text.split("\n");
  const eol = lines.length === 0 || lines[lines.length - 1] === "";
  if (eol && lines.length > 0) lines.pop();
  let added = false;
  for (const a of [...adopted].sort((x, y) => x.line - y.line)) {
    if (lines.includes(a.raw)) continue;
    let at = lines.length;
    if (a.line - 1 <= lines.length && (a.prev === null ? a.line === 1 : lines[a.line - 2] === a.prev)) at = a.line - 1;
    else if (a.prev !== null && lines.lastIndexOf(a.prev) >= 0) at = lines.lastIndexOf(a.prev) + 1;
    lines.splice(at, 0, a.raw);
    added = true;
  }
  if (!added) return text;
  // crontab needs the final newline; a file that lacked one gets it here.
  return lines.join("\n") + "\n";
}

/**
 * One pass: heartbeat, desired state, reconcile every crontab concerned, caches, spool, report.
 * Throws ServerError before touching the host when the server does not answer both calls.
 */
export async function syncOnce(cfg: AgentConfig, deps: SyncDeps): Promise<SyncSummary> {
  const print = deps.print ?? (() => {});
  const previous = await readAgentState(deps.stateDir);
  const attemptAt = new Date().toISOString();
  const base: AgentState = previous ?? {
    server: cfg.server,
    agent_id: cfg.agent_id,
    name: cfg.name,
    last_attempt_at: null,
    last_sync_at: null,
    last_error: null,
    etag: null,
    desired: null,
    users: [],
    managed: [],
    discovered: 0,
    spooled: 0,
  };
  let fetched: { etag: string; state: DesiredState } | null;
  let intervalS: number | null = null;
  try {
    if (!deps.dryRun) intervalS = (await deps.client.heartbeat()).interval_s;
    // A 304 reuses what we saved; without a saved copy ask again in full.
    fetched = await deps.client.desiredState(base.desired ? base.etag : null);
  } catch (e) {
    if (!deps.dryRun) await writeAgentState(deps.stateDir, { ...base, last_attempt_at: attemptAt, last_error: (e as Error).message });
    throw e;
  }
  const notModified = fetched === null;
  const desired = fetched?.state ?? base.desired!;
  const etag = fetched?.etag ?? base.etag;

  if (deps.tasks) return syncTasks(cfg, deps, desired, etag, base, attemptAt, notModified, intervalS);

  // Group the jobs by the account whose crontab holds them. Accounts are told apart by uid, so
  // a job for "root" and a job without a user land in one crontab when the agent is root, and
  // each crontab is read once and written at most once per pass, whatever names lead to it.
  const self = deps.account;
  const lookupOnce = deps.lookupAccount ?? lookupAccount;
  const known = new Map<string, Account | null>();
  const accountOf = (name: string): Account | null => {
    if (!known.has(name)) known.set(name, lookupOnce(name));
    return known.get(name)!;
  };
  interface Tab {
    account: Account;
    own: boolean;
    jobs: DesiredJob[];
  }
  const tabs = new Map<number, Tab>([[self.uid, { account: self, own: true, jobs: [] }]]);
  const results: ManagedEntry[] = [];
  for (const job of desired.jobs) {
    const account = job.user == null ? self : accountOf(job.user);
    const ref = `${job.namespace}/${job.name}`;
    if (!account) {
      results.push({ job_id: job.id, ref, user: job.user!, state: "error", message: `no user ${job.user} on this host` });
      continue;
    }
    if (account.uid !== self.uid && !deps.root) {
      results.push({ job_id: job.id, ref, user: job.user!, state: "error", message: `the agent runs as ${self.name} and cannot manage ${job.user}'s crontab (run it as root)` });
      continue;
    }
    const tab = tabs.get(account.uid) ?? { account, own: account.uid === self.uid, jobs: [] };
    tab.jobs.push(job);
    tabs.set(account.uid, tab);
  }
  // Crontabs that held managed entries in an earlier pass: a user no job needs any more is cleaned up.
  for (const name of deps.root ? base.users : []) {
    const account = accountOf(name);
    if (!account || tabs.has(account.uid)) continue; // gone, or seen already
    tabs.set(account.uid, { account, own: false, jobs: [] });
  }
  const adoptedBy = new Map(desired.jobs.flatMap((j) => j.adopted_from.map((id) => [id, j.id] as const)));
  const desiredIds = new Set(desired.jobs.map((j) => j.id));
  // Lines of adopted jobs still desired; what an adopted job took over goes with the job.
  const stored = await readAdopted(deps.stateDir);
  let adopted = stored.filter((a) => desiredIds.has(a.job_id));

  const changed: string[] = [];
  const discovered: { id: string; user: string; schedule: string; command: string; line: string }[] = [];
  const cachesByDir = new Map<string, { caches: JobCache[]; owner?: Owner }>();
  const hostName = osHostname();
  for (const { account, own, jobs } of tabs.values()) {
    const user = account.name;
    const owner = own ? undefined : { uid: account.uid, gid: account.gid };
    const dir = own ? deps.stateDir : userStateDir(deps.stateDir, user);
    const userArg = own ? undefined : user;
    const original = await deps.io.read(userArg);
    const { text: current, dropped } = dropAdopted(original ?? "", adoptedBy, user);
    const entries: DesiredEntry[] = jobs.map((j) => ({
      jobId: j.id,
      ref: `${j.namespace}/${j.name}`,
      schedule: j.schedule,
      timezone: j.timezone,
      command: entryCommand(deps.self, j.id, own && !cfg.state_dir && !process.env.CRONTOPUS_AGENT_STATE_DIR ? null : dir, j),
      paused: j.paused,
    }));
    const r = reconcile(current, entries, deps.host);
    const text = r.text;
    const differs = text !== (original ?? "");
    let onHost = original ?? "";
    if (differs && (original !== null || jobs.length > 0)) {
      changed.push(user);
      if (deps.dryRun) {
        print(`crontab of ${user}:`);
        for (const l of lineDiff(original ?? "", text)) print(`  ${l}`);
        onHost = text;
      } else {
        await saveBackupOnce(deps.stateDir, user, original);
        // Kept before the line goes, so that a crash after the write cannot lose it.
        if (dropped.length > 0) {
          adopted = [...adopted, ...dropped.filter((d) => !adopted.some((a) => a.job_id === d.job_id && a.raw === d.raw))];
          await writeAdopted(deps.stateDir, adopted);
        }
        await deps.io.install(text, userArg);
        print(`updated the crontab of ${user}`);
        // What crontab says it holds now, not what we handed it.
        onHost = (await deps.io.read(userArg)) ?? "";
      }
    }
    // A job counts as on the host only if the crontab as read back holds its block as written.
    const check = onHost === text ? r : reconcile(dropAdopted(onHost, adoptedBy, user).text, entries, deps.host);
    r.results.forEach((res, i) => {
      const j = jobs[i]!;
      const ok = res.state === "error" || onHost === text || (check.results[i]!.state === "applied" && check.results[i]!.message === "unchanged");
      const entry: ManagedEntry = ok
        ? { job_id: res.jobId, ref: `${j.namespace}/${j.name}`, user, state: res.state, ...(res.message ? { message: res.message } : {}) }
        : {
            job_id: res.jobId,
            ref: `${j.namespace}/${j.name}`,
            user,
            state: "error",
            message: `its line is not in the crontab of ${user} as read back after writing it (did something else change the crontab at the same moment?); the next pass writes it again`,
          };
      results.push(entry);
    });
    for (const d of discover(onHost)) discovered.push({ id: d.id, user, schedule: d.schedule, command: d.command, line: d.raw });
    const caches: JobCache[] = [];
    r.results.forEach((res, i) => {
      if (res.state === "error") return;
      const j = jobs[i]!;
      let gate = false;
      try {
        gate = hostSchedule(j.schedule, j.timezone, deps.host).strategy === "superset";
      } catch {}
      caches.push({
        job_id: j.id,
        ref: `${j.namespace}/${j.name}`,
        server: cfg.server,
        checkin_token: j.checkin_token,
        env: j.env,
        working_dir: j.working_dir,
        timeout_s: j.timeout_s,
        schedule: j.schedule,
        timezone: j.timezone,
        gate,
        output_limit: DEFAULT_OUTPUT_LIMIT,
        host: hostName,
      });
    });
    cachesByDir.set(dir, { caches, owner });
  }
  if (deps.dryRun) {
    for (const r of results) if (r.state !== "applied") print(`${r.ref} (${r.user}): ${r.state}${r.message ? `: ${r.message}` : ""}`);
    return { changed, results, discovered: discovered.length, delivered: 0, spooled: 0, notModified, intervalS };
  }
  if ([...cachesByDir.values()].some((c) => c.owner)) {
    // Other users' exec must pass through to their own directory (users/<name>, 0700, theirs)
    // without being able to list or read anything else here.
    await mkdir(join(deps.stateDir, "users"), { recursive: true });
    await chmod(deps.stateDir, 0o711);
    await chmod(join(deps.stateDir, "users"), 0o711);
  }
  for (const [dir, { caches, owner }] of cachesByDir) await syncJobCaches(dir, caches, owner);
  if (adopted.length !== stored.length) await writeAdopted(deps.stateDir, adopted);

  const { delivered, left } = await deliverSpool(deps.client, deps.stateDir);
  await deps.client.report({ etag: etag ?? undefined, jobs: results.map((r) => ({ job_id: r.job_id, state: r.state, ...(r.message ? { message: r.message } : {}) })), discovered });
  await writeAgentState(deps.stateDir, {
    server: cfg.server,
    agent_id: cfg.agent_id,
    name: cfg.name,
    last_attempt_at: attemptAt,
    last_sync_at: new Date().toISOString(),
    last_error: null,
    etag,
    desired,
    users: [...tabs.values()].filter((t) => t.own || t.jobs.length > 0).map((t) => t.account.name),
    managed: results,
    discovered: discovered.length,
    spooled: left,
  });
  return { changed, results, discovered: discovered.length, delivered, spooled: left, notModified, intervalS };
}

/** The arguments of a task's action: this binary's exec, then the command through cmd.exe. */
export function taskCommand(self: string[], jobId: string, stateDir: string | null, job: Pick<DesiredJob, "command" | "args">): string[] {
  const full = [job.command, ...job.args].join(" ");
  return [...self, "exec", "--job", jobId, ...(stateDir ? ["--state-dir", stateDir] : []), "--", "cmd.exe", "/d", "/s", "/c", full];
}

/** One pass on Windows: the jobs become tasks under \Crontopus\ (run as SYSTEM, or the job's user). */
async function syncTasks(
  cfg: AgentConfig,
  deps: SyncDeps,
  desired: DesiredState,
  etag: string | null,
  base: AgentState,
  attemptAt: string,
  notModified: boolean,
  intervalS: number | null,
): Promise<SyncSummary> {
  const stateDir = cfg.state_dir || process.env.CRONTOPUS_AGENT_STATE_DIR ? deps.stateDir : null;
  const tasks: DesiredTask[] = desired.jobs.map((j) => ({
    jobId: j.id,
    ref: `${j.namespace}/${j.name}`,
    schedule: j.schedule,
    timezone: j.timezone,
    command: taskCommand(deps.self, j.id, stateDir, j),
    paused: j.paused,
  }));
  const byId = new Map(desired.jobs.map((j) => [j.id, j]));
  if (deps.dryRun) {
    for (const t of tasks) (deps.print ?? (() => {}))(`task ${t.ref}: ${t.schedule} (${t.timezone}) ${t.paused ? "disabled" : "enabled"}`);
    return { changed: [], results: [], discovered: 0, delivered: 0, spooled: 0, notModified, intervalS };
  }
  const applied = await deps.tasks!.apply(tasks);
  const results: ManagedEntry[] = applied
    .filter((r) => byId.has(r.jobId))
    .map((r) => {
      const j = byId.get(r.jobId)!;
      return { job_id: r.jobId, ref: `${j.namespace}/${j.name}`, user: j.user ?? deps.account.name, state: r.state, ...(r.state !== "applied" && r.message ? { message: r.message } : {}) };
    });
  const caches: JobCache[] = results
    .filter((r) => r.state !== "error")
    .map((r) => {
      const j = byId.get(r.job_id)!;
      let gate = false;
      try {
        gate = !cronToTriggers(j.schedule, j.timezone, deps.host.timezone).exact;
      } catch {}
      return { job_id: j.id, ref: r.ref, server: cfg.server, checkin_token: j.checkin_token, env: j.env, working_dir: j.working_dir, timeout_s: j.timeout_s, schedule: j.schedule, timezone: j.timezone, gate, output_limit: DEFAULT_OUTPUT_LIMIT, host: osHostname() };
    });
  await syncJobCaches(deps.stateDir, caches);
  const { delivered, left } = await deliverSpool(deps.client, deps.stateDir);
  await deps.client.report({ etag: etag ?? undefined, jobs: results.map((r) => ({ job_id: r.job_id, state: r.state, ...(r.message ? { message: r.message } : {}) })), discovered: [] });
  await writeAgentState(deps.stateDir, { ...base, last_attempt_at: attemptAt, last_sync_at: new Date().toISOString(), last_error: null, etag, desired, users: [deps.account.name], managed: results, discovered: 0, spooled: left });
  const changed = applied.some((r) => r.message && r.message !== "unchanged") ? ["\\Crontopus\\"] : [];
  return { changed, results, discovered: 0, delivered, spooled: left, notModified, intervalS };
}

/** Sends every spooled result (the agent's own and each user's), oldest first; stops at the first network error. */
export async function deliverSpool(client: AgentClient, stateDir: string): Promise<{ delivered: number; left: number }> {
  const dirs = [stateDir];
  for (const u of await readdir(join(stateDir, "users")).catch(() => [] as string[])) dirs.push(userStateDir(stateDir, u));
  let delivered = 0;
  let left = 0;
  for (const dir of dirs) {
    const items = await listSpool(dir);
    let i = 0;
    for (; i < items.length; i++) {
      const { path, record } = items[i]!;
      try {
        await client.checkin(record);
      } catch (e) {
        const status = (e as ServerError).status;
        // Refused for good (the job was deleted, a bad record): drop it rather than retry forever.
        if (status !== null && status >= 400 && status < 500 && status !== 429 && status !== 401) {
          await rm(path, { force: true });
          continue;
        }
        break;
      }
      await rm(path, { force: true });
      delivered++;
    }
    left += items.length - i;
  }
  return { delivered, left };
}

/**
 * Takes every managed entry out of the crontabs the agent manages (agent uninstall). User
 * lines stay byte for byte; lines adopted jobs took over come back as they were; a crontab
 * left empty where the user had none (their backup is `crontab.<user>.none`) is removed.
 * Returns the users whose crontab changed.
 */
export async function removeManagedEntries(
  io: CrontabIO,
  stateDir: string,
  account: Account,
  lookup: (user: string) => Account | null = lookupAccount,
): Promise<string[]> {
  const state = await readAgentState(stateDir);
  const adopted = await readAdopted(stateDir);
  const tabs = new Map<number, Account>([[account.uid, account]]);
  const uidOf = new Map<string, number | undefined>([[account.name, account.uid]]);
  for (const name of [...(state?.users ?? []), ...adopted.map((a) => a.user)]) {
    if (uidOf.has(name)) continue;
    const a = lookup(name);
    uidOf.set(name, a?.uid);
    if (a && !tabs.has(a.uid)) tabs.set(a.uid, a);
  }
  const changed: string[] = [];
  for (const a of tabs.values()) {
    const own = a.uid === account.uid;
    const userArg = own ? undefined : a.name;
    const text = await io.read(userArg).catch(() => null);
    if (text === null) continue;
    const next = restoreAdopted(
      uninstall(text),
      adopted.filter((l) => uidOf.get(l.user) === a.uid),
    );
    const backups = join(stateDir, "backups");
    const hadNone = !existsSync(join(backups, `crontab.${a.name}.orig`)) && (next !== text || existsSync(join(backups, `crontab.${a.name}.none`)));
    if (next === "" && hadNone) {
      await io.remove(userArg);
      changed.push(a.name);
    } else if (next !== text) {
      await io.install(next, userArg);
      changed.push(a.name);
    }
  }
  return changed;
}

// ---------------------------------------------------------------------------------------
// The loop

export interface LoopOptions {
  /** --interval; otherwise what the server asks for. */
  intervalS: number | null;
  once: boolean;
  log: (line: string) => void;
  /** Stops the loop (tests, signals). */
  signal?: AbortSignal;
}

/** Passes until stopped; errors back off (interval × 2ⁿ, at most 5 minutes) and never touch entries. */
export async function runLoop(cfg: AgentConfig, deps: SyncDeps, o: LoopOptions): Promise<number> {
  let failures = 0;
  let interval = o.intervalS ?? 30;
  for (;;) {
    let ok = true;
    try {
      const s = await syncOnce(cfg, deps);
      failures = 0;
      if (o.intervalS === null && s.intervalS) interval = s.intervalS;
      const bad = s.results.filter((r) => r.state !== "applied");
      o.log(
        `synced: ${s.results.length} job(s)${s.changed.length ? `, updated ${s.changed.join(", ")}` : ""}${bad.length ? `, ${bad.map((r) => `${r.ref} ${r.state}`).join(", ")}` : ""}${s.delivered ? `, delivered ${s.delivered} spooled result(s)` : ""}`,
      );
    } catch (e) {
      ok = false;
      failures++;
      o.log(`sync failed, entries left as they are: ${(e as Error).message}`);
    }
    if (o.once) return ok ? 0 : 1;
    const delay = ok ? interval * 1000 : Math.min(interval * 1000 * 2 ** Math.min(failures, 10), 300_000) * (0.8 + Math.random() * 0.4);
    const stopped = await new Promise<boolean>((res) => {
      if (o.signal?.aborted) return res(true);
      const t = setTimeout(() => res(false), delay);
      o.signal?.addEventListener("abort", () => {
        clearTimeout(t);
        res(true);
      });
    });
    if (stopped) return 0;
  }
}
