// Where the agent keeps its files. One place, so `agent enroll`, `agent run`, `exec --job`
// and the service installer agree.
//
//   config  /etc/crontopus/agent.json (root) or ~/.config/crontopus/agent.json; mode 0600.
//           --config or CRONTOPUS_AGENT_CONFIG override it.
//   state   /var/lib/crontopus (root) or ~/.local/state/crontopus; CRONTOPUS_AGENT_STATE_DIR
//           or the config's state_dir override it. Inside:
//             jobs/<job id>.json      what `exec --job` needs (see agent/jobcache.ts)
//             spool/…                 results `exec` could not deliver, sent later by the agent
//             users/<user>/jobs, spool  the same for jobs run from another user's crontab (spec.user)
//             backups/                the original crontab of each user, saved before the first change
//             state.json              the agent's view: last sync, managed entries, drift
import { homedir } from "node:os";
import { join } from "node:path";

type Env = Record<string, string | undefined>;

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

export function defaultConfigPath(env: Env = process.env, root = isRoot()): string {
  if (env.CRONTOPUS_AGENT_CONFIG) return env.CRONTOPUS_AGENT_CONFIG;
  if (process.platform === "win32") return join(env.ProgramData ?? "C:\\ProgramData", "Crontopus", "agent.json");
  return root ? "/etc/crontopus/agent.json" : join(env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "crontopus", "agent.json");
}

export function defaultStateDir(env: Env = process.env, root = isRoot()): string {
  if (env.CRONTOPUS_AGENT_STATE_DIR) return env.CRONTOPUS_AGENT_STATE_DIR;
  if (process.platform === "win32") return join(env.ProgramData ?? "C:\\ProgramData", "Crontopus", "state");
  return root ? "/var/lib/crontopus" : join(env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "crontopus");
}
