// crontopus agent enroll | run | status | install | uninstall: the agent on a host.
// See docs/agent.md (operators) and docs/agent-protocol.md (the wire).
import { defineCommand } from "citty";
import { command, repeated } from "./args";
import { CliError, UsageError } from "./run";
import { printFields, printJson, printTable, formatTime } from "./output";
import { normaliseServer } from "./client";
import { defaultConfigPath, defaultStateDir, isRoot } from "../../agent/paths";

const configArg = {
  config: { type: "string", description: "Agent config file (CRONTOPUS_AGENT_CONFIG; /etc/crontopus/agent.json as root, else ~/.config/crontopus/agent.json)", valueHint: "FILE" },
} as const;

const configPath = (args: { config?: string }) => args.config ?? defaultConfigPath();

async function loadConfig(path: string) {
  const { readAgentConfig, AgentConfigError } = await import("../../agent/agent");
  try {
    return await readAgentConfig(path);
  } catch (e) {
    if (e instanceof AgentConfigError) throw new CliError(e.message);
    throw e;
  }
}

function parseLabels(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i <= 0) throw new UsageError(`--label: expected key=value, got "${v}"`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

function parseInterval(v: string | undefined): number | null {
  if (v === undefined) return null;
  const m = /^(\d+)(s|m|h)?$/.exec(v.trim());
  if (!m || Number(m[1]) === 0) throw new UsageError(`--interval: expected a duration such as 30s, 5m or 1h, got "${v}"`);
  return Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
}

async function syncDeps(cfg: { server: string; token: string; state_dir?: string; binary?: string[] }, dryRun: boolean) {
  const { AgentClient, selfCommand } = await import("../../agent/agent");
  const { SystemCrontab, detectHostCron, currentAccount } = await import("../../agent/host");
  const host = await detectHostCron();
  let tasks;
  if (process.platform === "win32") {
    const { TaskSchedulerBackend } = await import("../../agent/schtasks");
    const { systemRunner } = await import("../../agent/spawn");
    const { tmpdir } = await import("node:os");
    tasks = new TaskSchedulerBackend(systemRunner, { tmpDir: tmpdir(), host: { timezone: host.timezone } });
  }
  return {
    tasks,
    client: new AgentClient(cfg.server, cfg.token),
    io: new SystemCrontab(),
    host,
    stateDir: cfg.state_dir ?? defaultStateDir(),
    account: currentAccount(),
    root: isRoot(),
    self: cfg.binary ?? selfCommand(),
    dryRun,
    print: (l: string) => console.log(l),
  };
}

const enroll = command({
  meta: { name: "enroll", description: "Enroll this host with an enrollment token and save the agent token" },
  args: {
    server: { type: "string", required: true, description: "The Crontopus server URL", valueHint: "URL" },
    token: { type: "string", required: true, description: "Enrollment token (cte_…)", valueHint: "TOKEN" },
    name: { type: "string", description: "Agent name, unique in the tenant (default: the host name)", valueHint: "NAME" },
    label: { type: "string", description: "key=value label jobs can select; repeat for several", valueHint: "KEY=VALUE" },
    ...configArg,
    json: { type: "boolean", description: "Print JSON" },
  },
  async run({ args, rawArgs }) {
    const server = normaliseServer(args.server, "--server", 2);
    if (!args.token.startsWith("cte_")) throw new UsageError("--token: expected an enrollment token (cte_…)");
    const labels = parseLabels(repeated(rawArgs, ["label"]));
    const { machineFacts } = await import("../../agent/machine");
    const { writeAgentConfig } = await import("../../agent/agent");
    const { VERSION } = await import("../version");
    let facts;
    try {
      facts = machineFacts();
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    let res: Response;
    try {
      res = await fetch(`${server}/api/v1/agent/enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: args.token, ...facts, version: VERSION, ...(args.name ? { name: args.name } : {}), labels }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (e) {
      throw new CliError(`cannot reach ${server}: ${(e as Error).message}`);
    }
    const body = (await res.json().catch(() => ({}))) as { token?: string; agent?: { id: string; name: string }; error?: { message?: string } };
    if (!res.ok || !body.token || !body.agent) throw new CliError(`enrollment refused: ${body.error?.message ?? `HTTP ${res.status}`}`);
    const path = configPath(args);
    await writeAgentConfig(path, { server, token: body.token, agent_id: body.agent.id, name: body.agent.name });
    if (args.json) return printJson({ agent: body.agent, config: path });
    console.log(`enrolled as ${body.agent.name} (${body.agent.id}); agent config saved to ${path}`);
  },
});

const run = command({
  meta: { name: "run", description: "Heartbeat, fetch the desired state, reconcile the host's scheduler, report; repeat" },
  args: {
    once: { type: "boolean", description: "One pass, then exit (1 if it failed)" },
    "dry-run": { type: "boolean", description: "Print the changes it would make; change nothing" },
    interval: { type: "string", description: "Time between passes (default: what the server asks, 30s)", valueHint: "DURATION" },
    ...configArg,
  },
  async run({ args }) {
    const intervalS = parseInterval(args.interval);
    const cfg = await loadConfig(configPath(args));
    const { runLoop } = await import("../../agent/agent");
    const deps = await syncDeps(cfg, args["dry-run"] === true);
    const stop = new AbortController();
    for (const s of ["SIGTERM", "SIGINT"] as const) process.on(s, () => stop.abort());
    const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
    const once = args.once === true || args["dry-run"] === true;
    const code = await runLoop(cfg, deps, { intervalS, once, log: once && args["dry-run"] ? () => {} : log, signal: stop.signal });
    if (code !== 0) throw new CliError("the pass failed; entries were left as they are", code);
  },
});

const status = command({
  meta: { name: "status", description: "The agent's view: server, last sync, managed entries, drift" },
  args: { ...configArg, json: { type: "boolean", description: "Print JSON" } },
  async run({ args }) {
    const cfg = await loadConfig(configPath(args));
    const { readAgentState } = await import("../../agent/agent");
    const state = await readAgentState(cfg.state_dir ?? defaultStateDir());
    if (args.json) return printJson({ server: cfg.server, agent_id: cfg.agent_id, name: cfg.name, state });
    const managed = state?.managed ?? [];
    const drifted = managed.filter((m) => m.state === "drifted");
    const errors = managed.filter((m) => m.state === "error");
    printFields([
      ["Server", cfg.server],
      ["Agent", `${cfg.name} (${cfg.agent_id})`],
      ["Last sync", formatTime(state?.last_sync_at ?? null)],
      ["Last attempt", formatTime(state?.last_attempt_at ?? null)],
      ["Last error", state?.last_error ?? null],
      ["Managed", `${managed.length} entr${managed.length === 1 ? "y" : "ies"}${errors.length ? `, ${errors.length} in error` : ""}`],
      ["Drift", drifted.length ? drifted.map((d) => d.ref).join(", ") + " (restored)" : "none"],
      ["Discovered", state ? `${state.discovered} unmanaged entr${state.discovered === 1 ? "y" : "ies"}` : null],
      ["Spooled", state ? `${state.spooled} result(s) waiting` : null],
    ]);
    if (managed.length) {
      console.log("");
      printTable(["JOB", "USER", "STATE", "MESSAGE"], managed.map((m) => [m.ref, m.user, m.state, m.message ?? ""]));
    }
  },
});

const install = command({
  meta: { name: "install", description: "Install and start the agent as a service (systemd, launchd, or a start-up task on Windows)" },
  args: { ...configArg },
  async run({ args }) {
    const path = configPath(args);
    const cfg = await loadConfig(path);
    const { installService } = await import("../../agent/service");
    const { selfCommand } = await import("../../agent/agent");
    try {
      const steps = await installService({ binary: cfg.binary ?? selfCommand(), configPath: path });
      for (const s of steps) console.log(s);
    } catch (e) {
      throw new CliError(`cannot install the service: ${(e as Error).message}`);
    }
  },
});

const uninstallCmd = command({
  meta: { name: "uninstall", description: "Stop and remove the service and take the managed entries out of the crontabs" },
  args: {
    "keep-entries": { type: "boolean", description: "Leave the managed entries in place" },
    ...configArg,
  },
  async run({ args }) {
    const path = configPath(args);
    const cfg = await loadConfig(path);
    const { uninstallService } = await import("../../agent/service");
    try {
      for (const s of await uninstallService()) console.log(s);
    } catch (e) {
      console.error(`warning: ${(e as Error).message}`);
    }
    if (args["keep-entries"]) return console.log("managed entries kept");
    if (process.platform === "win32") {
      const { TaskSchedulerBackend } = await import("../../agent/schtasks");
      const { systemRunner } = await import("../../agent/spawn");
      const { tmpdir } = await import("node:os");
      await new TaskSchedulerBackend(systemRunner, { tmpDir: tmpdir(), host: { timezone: Intl.DateTimeFormat().resolvedOptions().timeZone } }).uninstall();
      return console.log("managed tasks removed from \\Crontopus\\");
    }
    const { removeManagedEntries } = await import("../../agent/agent");
    const { SystemCrontab, currentAccount } = await import("../../agent/host");
    const changed = await removeManagedEntries(new SystemCrontab(), cfg.state_dir ?? defaultStateDir(), currentAccount());
    console.log(changed.length ? `managed entries removed from the crontab of ${changed.join(", ")}` : "no managed entries to remove");
  },
});

export default defineCommand({
  meta: { name: "agent", description: "Run Crontopus as an agent on this host: enroll, run, status, install, uninstall" },
  subCommands: { enroll, run, status, install, uninstall: uninstallCmd },
});
