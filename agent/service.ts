// Installs the agent as a service: a systemd unit on Linux, a launchd job on macOS, a
// start-up task on Windows. `crontopus agent install` and `agent uninstall` call this.
//
// The renderers (systemdUnit, launchdPlist, agentTaskXml) are pure. installService and
// uninstallService write one file and drive systemctl / launchctl / schtasks through the
// CommandRunner seam of agent/spawn.ts; tests pass a recording fake and a temporary
// `fsRoot` that every written path is placed under.
//
// Removing the managed crontab entries on uninstall is the caller's job, not this file's.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join, posix, win32 } from "node:path";
import { Invalid } from "../src/errors";
import { isRoot } from "./paths";
import { systemRunner, type CommandRunner } from "./spawn";
import { principalXml, quoteWindowsArg, TASK_NAMESPACE, utf16le } from "./taskxml";

export const SYSTEMD_UNIT = "crontopus-agent.service";
export const LAUNCHD_LABEL = "io.crontopus.agent";
export const AGENT_TASK = "\\Crontopus\\Agent";

// ---------------------------------------------------------------------------------------
// systemd

/**
 * The crontopus executable: an absolute path, or the argv that starts it (an absolute
 * executable, then its leading arguments, e.g. [bun, /opt/crontopus/src/main.ts]).
 */
export type AgentBinary = string | readonly string[];

export interface UnitOptions {
  binary: AgentBinary;
  configPath: string;
  /** Run as this account instead of root (system units only); it can then manage only its own crontab. */
  user?: string;
  /** "system" for /etc/systemd/system (the default), "user" for a `systemctl --user` unit. */
  scope?: "system" | "user";
}

/** The text of crontopus-agent.service. */
export function systemdUnit(o: UnitOptions): string {
  const argv = agentArgv(o, "posix");
  const scope = o.scope ?? "system";
  if (o.user !== undefined) {
    if (scope === "user") throw new Invalid("user", "a user unit always runs as the user who installed it");
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$|^\d+$/.test(o.user)) throw new Invalid("user", `"${o.user}" is not a user name`);
  }

  const hardening =
    scope === "user"
      ? [
          // Most sandboxing options need privileges a user manager lacks (or unprivileged
          // user namespaces, which many hosts disable), and a unit using them fails to start.
        ]
      : [
          ``,
          `# Hardening that still lets the agent manage crontabs. It runs \`crontab -u <user>\`,`,
          `# and crontab is setgid (Debian) or changes SELinux domain (Fedora, RHEL) to write`,
          `# under /var/spool/cron. NoNewPrivileges= would stop both, so it is not set, and`,
          `# every option below that would imply it is only used while the agent runs as root`,
          `# with CAP_SYS_ADMIN, where systemd does not imply it.`,
          `# ProtectSystem=true makes /usr and /boot read-only; "full" would also cover /etc`,
          `# (the agent's config) and "strict" /var (its state and the crontab spool).`,
          `# MemoryDenyWriteExecute= is left off: the JavaScript JIT needs it. PrivateTmp= is left`,
          `# off too: it would hide a binary or config kept under /tmp, and the service would not`,
          `# start; the agent's temporary files are private (mode 0700 directories) without it.`,
          `# Jobs are started by cron, not by this service, so none of this applies to them.`,
          `ProtectSystem=true`,
          ...(o.user === undefined
            ? [
                `ProtectKernelTunables=true`,
                `ProtectKernelModules=true`,
                `ProtectKernelLogs=true`,
                `ProtectControlGroups=true`,
                `RestrictRealtime=true`,
                `LockPersonality=true`,
                `SystemCallArchitectures=native`,
              ]
            : []),
        ];

  return [
    `# Crontopus agent: keeps this machine's crontabs in line with the Crontopus server.`,
    `# Written by \`crontopus agent install\`, which overwrites local changes (use`,
    `# \`systemctl${scope === "user" ? " --user" : ""} edit crontopus-agent\` for overrides); \`crontopus agent uninstall\` removes it.`,
    `[Unit]`,
    `Description=Crontopus agent`,
    `After=network-online.target`,
    `Wants=network-online.target`,
    ``,
    `[Service]`,
    `Type=simple`,
    ...(o.user !== undefined ? [`User=${o.user}`] : []),
    `ExecStart=${argv.map(systemdArg).join(" ")}`,
    `Restart=always`,
    `RestartSec=5`,
    ...hardening,
    ``,
    `[Install]`,
    `WantedBy=${scope === "user" ? "default.target" : "multi-user.target"}`,
    ``,
  ].join("\n");
}

/**
 * One word of an ExecStart= line. systemd expands %-specifiers and $VARIABLES even inside
 * quotes, so those are doubled; anything beyond plain path characters is double-quoted
 * with C-style escapes.
 */
function systemdArg(s: string): string {
  const escaped = s.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  if (/^[A-Za-z0-9_@+=:,./%$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

// ---------------------------------------------------------------------------------------
// launchd

export interface PlistOptions {
  binary: AgentBinary;
  configPath: string;
  /** Where launchd sends the agent's output; default /var/log/crontopus-agent.log. */
  logPath?: string;
}

/** The text of io.crontopus.agent.plist. */
export function launchdPlist(o: PlistOptions): string {
  const argv = agentArgv(o, "posix");
  const log = o.logPath ?? "/var/log/crontopus-agent.log";
  checkPath("logPath", log, "posix");
  const str = (s: string) => `<string>${xmlText(s)}</string>`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`,
    `<!-- Crontopus agent. Written by \`crontopus agent install\`; \`crontopus agent uninstall\` removes it. -->`,
    `<plist version="1.0">`,
    `<dict>`,
    `  <key>Label</key>`,
    `  ${str(LAUNCHD_LABEL)}`,
    `  <key>ProgramArguments</key>`,
    `  <array>`,
    ...argv.map((a) => `    ${str(a)}`),
    `  </array>`,
    `  <key>RunAtLoad</key>`,
    `  <true/>`,
    // Restart whenever it exits, at most every 5 s (as Restart=always, RestartSec=5).
    `  <key>KeepAlive</key>`,
    `  <true/>`,
    `  <key>ThrottleInterval</key>`,
    `  <integer>5</integer>`,
    `  <key>StandardOutPath</key>`,
    `  ${str(log)}`,
    `  <key>StandardErrorPath</key>`,
    `  ${str(log)}`,
    `</dict>`,
    `</plist>`,
    ``,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------
// Windows Task Scheduler

export interface TaskOptions {
  binary: AgentBinary;
  configPath: string;
}

/** The Task Scheduler definition of \Crontopus\Agent: at boot, as SYSTEM, for ever. */
export function agentTaskXml(o: TaskOptions): string {
  const [exe, ...rest] = agentArgv(o, "win32");
  // Task Scheduler expands %NAME% in Command and offers no escape; quotes cannot occur in a Windows path.
  if (/["%]/.test(exe!)) throw new Invalid("binary", `the executable path cannot contain " or %: ${exe}`);
  const args = rest.map(quoteWindowsArg).join(" ");
  return [
    `<?xml version="1.0" encoding="UTF-16"?>`,
    `<Task version="1.2" xmlns="${TASK_NAMESPACE}">`,
    `  <RegistrationInfo>`,
    `    <Author>Crontopus</Author>`,
    `    <Description>Crontopus agent: keeps the tasks in \\Crontopus\\ in line with the Crontopus server. Written by crontopus agent install; crontopus agent uninstall removes it.</Description>`,
    `    <URI>${AGENT_TASK}</URI>`,
    `  </RegistrationInfo>`,
    `  <Triggers>`,
    `    <BootTrigger>`,
    `      <Enabled>true</Enabled>`,
    `    </BootTrigger>`,
    // A watchdog: RestartOnFailure covers a task that fails to start, not reliably one
    // whose process exits later, so the task is also started every 5 minutes. While the
    // agent runs, IgnoreNew drops those starts.
    `    <TimeTrigger>`,
    `      <StartBoundary>2020-01-01T00:00:00</StartBoundary>`,
    `      <Repetition>`,
    `        <Interval>PT5M</Interval>`,
    `        <StopAtDurationEnd>false</StopAtDurationEnd>`,
    `      </Repetition>`,
    `    </TimeTrigger>`,
    `  </Triggers>`,
    // LocalSystem, like root's crontab: it may create tasks that run as any account.
    ...principalXml("system"),
    `  <Settings>`,
    `    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>`,
    `    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>`,
    `    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>`,
    `    <AllowHardTerminate>true</AllowHardTerminate>`,
    `    <StartWhenAvailable>true</StartWhenAvailable>`,
    `    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>`,
    `    <AllowStartOnDemand>true</AllowStartOnDemand>`,
    `    <Enabled>true</Enabled>`,
    `    <Hidden>false</Hidden>`,
    `    <RunOnlyIfIdle>false</RunOnlyIfIdle>`,
    `    <WakeToRun>false</WakeToRun>`,
    // The agent runs until stopped; the default limit (3 days) would kill it.
    `    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>`,
    // Normal priority: the default (7) also lowers I/O priority, which can delay heartbeats.
    `    <Priority>5</Priority>`,
    `    <RestartOnFailure>`,
    `      <Interval>PT1M</Interval>`,
    `      <Count>999</Count>`,
    `    </RestartOnFailure>`,
    `  </Settings>`,
    `  <Actions Context="Author">`,
    `    <Exec>`,
    `      <Command>${xmlText(/\s/.test(exe!) ? `"${exe}"` : exe!)}</Command>`,
    `      <Arguments>${xmlText(args)}</Arguments>`,
    `    </Exec>`,
    `  </Actions>`,
    `</Task>`,
    ``,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------
// Installing and removing

export interface ServiceTarget {
  /** Default process.platform. */
  platform?: NodeJS.Platform;
  /** System-wide service (root) or one for the current user; default: whether we run as root. Ignored on Windows. */
  root?: boolean;
  /** For user services; default os.homedir(). */
  home?: string;
  /** For user services on Linux; default $XDG_CONFIG_HOME or <home>/.config. */
  configHome?: string;
  /** For launchctl's gui/<uid> domain; default process.getuid(). */
  uid?: number;
  /** Where the task XML is written for schtasks (then removed); default os.tmpdir(). */
  tmpDir?: string;
  /** Per command; default 60 s. */
  timeoutMs?: number;
}

export interface ServiceOptions extends ServiceTarget {
  binary: AgentBinary;
  configPath: string;
}

/** A service manager command failed. */
export class ServiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServiceError";
  }
}

/** Where the service definition lives for this target (without any test root). */
export function serviceFile(t: ServiceTarget = {}): string {
  const r = resolveTarget(t);
  switch (r.platform) {
    case "linux":
      return r.root ? `/etc/systemd/system/${SYSTEMD_UNIT}` : posix.join(r.configHome, "systemd", "user", SYSTEMD_UNIT);
    case "darwin":
      return r.root ? `/Library/LaunchDaemons/${LAUNCHD_LABEL}.plist` : posix.join(r.home, "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`);
    case "win32":
      return AGENT_TASK;
  }
}

/**
 * Install the agent as a service and start it. Re-running replaces the definition and
 * restarts the agent (on Windows, install.ps1 stops it first). `fsRoot` is prefixed to
 * every path written (tests use a temp dir); commands still name the real locations,
 * except the task XML file, which is both. Returns the steps taken, one line each, for
 * the CLI to print.
 */
export async function installService(opts: ServiceOptions, runner: CommandRunner = systemRunner, fsRoot = ""): Promise<string[]> {
  const t = resolveTarget(opts);
  const exec = executor(runner, t.timeoutMs);
  const steps: string[] = [];
  switch (t.platform) {
    case "linux": {
      const unit = systemdUnit({ binary: opts.binary, configPath: opts.configPath, scope: t.root ? "system" : "user" });
      const path = serviceFile(t);
      const before = await readFile(join(fsRoot, path), "utf8").catch(() => null);
      await writeText(join(fsRoot, path), unit, 0o644);
      steps.push(`wrote ${path}`);
      const systemctl = t.root ? ["systemctl"] : ["systemctl", "--user"];
      try {
        await exec.must([...systemctl, "daemon-reload"]);
        await exec.must([...systemctl, "enable", "--now", SYSTEMD_UNIT]);
      } catch (e) {
        // Leave no unit behind that is not running (or the earlier one, as it was).
        if (before === null) {
          await exec.may([...systemctl, "disable", SYSTEMD_UNIT]);
          await rm(join(fsRoot, path), { force: true });
        } else {
          await writeText(join(fsRoot, path), before, 0o644);
        }
        await exec.may([...systemctl, "daemon-reload"]);
        throw new ServiceError(`${(e as Error).message}; ${before === null ? `removed ${path} again` : `put the earlier ${path} back`}`);
      }
      steps.push(`enabled and started ${SYSTEMD_UNIT} (${systemctl.join(" ")} enable --now)`);
      // enable --now leaves an agent that is already running alone; a re-install usually
      // brings a new binary or config path, so restart it.
      if (before !== null) {
        await exec.must([...systemctl, "restart", SYSTEMD_UNIT]);
        steps.push(`restarted ${SYSTEMD_UNIT} to pick up the changes`);
      }
      const underTmp = agentArgv(opts, "posix").find((a) => /^\/(?:var\/)?tmp\//.test(a));
      if (underTmp) steps.push(`note: ${underTmp} is under a temporary directory that is emptied at boot; the agent and its cron lines stop working then: keep crontopus in /usr/local/bin`);
      if (!t.root) {
        steps.push(`note: a user service stops when you log out unless lingering is on: loginctl enable-linger ${process.env.USER ?? "$USER"}`);
      }
      return steps;
    }
    case "darwin": {
      const plist = launchdPlist({
        binary: opts.binary,
        configPath: opts.configPath,
        logPath: t.root ? "/var/log/crontopus-agent.log" : posix.join(t.home, "Library", "Logs", "crontopus-agent.log"),
      });
      const path = serviceFile(t);
      await writeText(join(fsRoot, path), plist, 0o644);
      steps.push(`wrote ${path}`);
      const domain = launchdDomain(t);
      // bootstrap refuses a job that is already loaded: unload any earlier one first.
      if ((await exec.may(["launchctl", "bootout", `${domain}/${LAUNCHD_LABEL}`])).code === 0) {
        steps.push(`stopped the running agent (launchctl bootout ${domain}/${LAUNCHD_LABEL})`);
      }
      // An earlier `launchctl disable` would make bootstrap fail.
      await exec.may(["launchctl", "enable", `${domain}/${LAUNCHD_LABEL}`]);
      await exec.must(["launchctl", "bootstrap", domain, path]);
      steps.push(`loaded and started ${LAUNCHD_LABEL} (launchctl bootstrap ${domain})`);
      return steps;
    }
    case "win32": {
      const xml = agentTaskXml({ binary: opts.binary, configPath: opts.configPath });
      const file = join(fsRoot, t.tmpDir, `crontopus-agent-${randomUUID()}.xml`);
      try {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, utf16le(xml));
        await exec.must(["schtasks", "/Create", "/XML", file, "/TN", AGENT_TASK, "/F"]);
      } finally {
        await rm(file, { force: true });
      }
      steps.push(`created the start-up task ${AGENT_TASK} (runs at boot as SYSTEM)`);
      // When the agent is already running (a re-install), IgnoreNew makes this a no-op;
      // install.ps1 stops it before replacing the binary.
      await exec.must(["schtasks", "/Run", "/TN", AGENT_TASK]);
      steps.push(`started ${AGENT_TASK}`);
      return steps;
    }
  }
}

/** Stop the service and remove its definition. Does not touch the managed crontab entries. */
export async function uninstallService(opts: ServiceTarget & Partial<ServiceOptions> = {}, runner: CommandRunner = systemRunner, fsRoot = ""): Promise<string[]> {
  const t = resolveTarget(opts);
  const exec = executor(runner, t.timeoutMs);
  const steps: string[] = [];
  switch (t.platform) {
    case "linux": {
      const path = serviceFile(t);
      const systemctl = t.root ? ["systemctl"] : ["systemctl", "--user"];
      if (!existsSync(join(fsRoot, path))) {
        steps.push(`no ${path}: the service is not installed`);
        return steps;
      }
      // The unit goes even when systemctl cannot stop it (a unit that never loaded, no
      // systemd running): what it says then is passed on, after the file is gone.
      const stop = await exec.may([...systemctl, "disable", "--now", SYSTEMD_UNIT]);
      if (stop.code === 0) steps.push(`stopped and disabled ${SYSTEMD_UNIT}`);
      await rm(join(fsRoot, path), { force: true });
      steps.push(`removed ${path}`);
      const reload = await exec.may([...systemctl, "daemon-reload"]);
      const failed = [stop, reload].find((r) => r.code !== 0);
      if (failed) {
        const argv = failed === stop ? [...systemctl, "disable", "--now", SYSTEMD_UNIT] : [...systemctl, "daemon-reload"];
        throw new ServiceError(`removed ${path}, but ${argv.join(" ")} failed (exit ${failed.code}): ${(failed.stderr || failed.stdout).trim() || "(no output)"}`);
      }
      return steps;
    }
    case "darwin": {
      const path = serviceFile(t);
      const domain = launchdDomain(t);
      // Fails when the job is not loaded, which is fine here.
      const out = await exec.may(["launchctl", "bootout", `${domain}/${LAUNCHD_LABEL}`]);
      steps.push(out.code === 0 ? `stopped and unloaded ${LAUNCHD_LABEL}` : `${LAUNCHD_LABEL} was not loaded`);
      if (existsSync(join(fsRoot, path))) {
        await rm(join(fsRoot, path), { force: true });
        steps.push(`removed ${path}`);
      }
      return steps;
    }
    case "win32": {
      if ((await exec.may(["schtasks", "/Query", "/TN", AGENT_TASK])).code !== 0) {
        steps.push(`no task ${AGENT_TASK}: the service is not installed`);
        return steps;
      }
      // Fails when the task is not running, which is fine here.
      if ((await exec.may(["schtasks", "/End", "/TN", AGENT_TASK])).code === 0) steps.push(`stopped ${AGENT_TASK}`);
      await exec.must(["schtasks", "/Delete", "/TN", AGENT_TASK, "/F"]);
      steps.push(`deleted ${AGENT_TASK}`);
      return steps;
    }
  }
}

// ---------------------------------------------------------------------------------------

interface ResolvedTarget {
  platform: "linux" | "darwin" | "win32";
  root: boolean;
  home: string;
  configHome: string;
  uid: number;
  tmpDir: string;
  timeoutMs: number;
}

function resolveTarget(t: ServiceTarget): ResolvedTarget {
  const platform = t.platform ?? process.platform;
  if (platform !== "linux" && platform !== "darwin" && platform !== "win32") {
    throw new ServiceError(`no service installer for ${platform}: start \`crontopus agent run\` from your init system`);
  }
  const home = t.home ?? homedir();
  return {
    platform,
    root: t.root ?? isRoot(),
    home,
    configHome: t.configHome ?? process.env.XDG_CONFIG_HOME ?? posix.join(home, ".config"),
    uid: t.uid ?? (typeof process.getuid === "function" ? process.getuid() : 0),
    tmpDir: t.tmpDir ?? tmpdir(),
    timeoutMs: t.timeoutMs ?? 60_000,
  };
}

/** launchd's domain: the system for daemons, the user's login session for agents. */
function launchdDomain(t: ResolvedTarget): string {
  return t.root ? "system" : `gui/${t.uid}`;
}

function executor(runner: CommandRunner, timeoutMs: number) {
  /** Runs argv; any failure to run comes back as a non-zero code. */
  const may = async (argv: string[]) => {
    try {
      return await runner.run(argv, { timeoutMs });
    } catch (e) {
      return { code: -1, stdout: "", stderr: e instanceof Error ? e.message : String(e) };
    }
  };
  /** Runs argv; a non-zero exit is a ServiceError. */
  const must = async (argv: string[]) => {
    const r = await may(argv);
    if (r.code !== 0) throw new ServiceError(`${argv.join(" ")} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim() || "(no output)"}`);
    return r;
  };
  return { may, must };
}

async function writeText(path: string, text: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text, { mode });
  // writeFile's mode only applies to a new file (and passes through the umask).
  await chmod(path, mode);
}

/** The service's command line: the executable (and its leading arguments), then `agent run --config <path>`. */
function agentArgv(o: { binary: AgentBinary; configPath: string }, style: "posix" | "win32"): string[] {
  const prefix = typeof o.binary === "string" ? [o.binary] : [...o.binary];
  if (prefix.length === 0) throw new Invalid("binary", "is empty");
  checkPath("binary", prefix[0]!, style);
  checkPath("configPath", o.configPath, style);
  for (const a of prefix.slice(1)) checkText("binary", a);
  return [...prefix, "agent", "run", "--config", o.configPath];
}

/** Absolute, and nothing that would break a line of a unit file or an XML document. */
function checkPath(field: string, path: string, style: "posix" | "win32"): void {
  if (!(style === "posix" ? posix : win32).isAbsolute(path)) throw new Invalid(field, `expected an absolute path, got "${path}"`);
  checkText(field, path);
}

function checkText(field: string, s: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) throw new Invalid(field, "cannot contain control characters");
}

function xmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
