// exec --ping-url URL [--timeout DURATION] -- COMMAND [ARGS…]: runs a command as cron would,
// reporting its start and its result (exit code, duration, the tail of its output). The command
// always runs and its exit code is always ours: reporting problems are warnings on stderr.
import { defineCommand } from "citty";
import { checkPingUrl, pingUrlFor, sendPing } from "./ping";
import { UsageError } from "./run";
import { warn } from "./output";
import { Tail } from "../headtail";
import { runCommand } from "../../agent/runner";

/** What a run ended with, as reported. */
export interface RunResult {
  exitCode: number;
  /** The last TAIL_BYTES of stdout and stderr, interleaved as they arrived. */
  output: string;
}

/**
 * Where a run's start and result go. Each method throws an Error with a one-line message when
 * the report could not be delivered. A ping URL today; the agent's local cache (`--job`) later.
 */
export interface RunReporter {
  start(runId: string): Promise<void>;
  finish(runId: string, result: RunResult): Promise<void>;
}

/** Reports to a job's ping URL: `/start?rid=`, then `/<exit-code>?rid=` with the output as body. */
export function pingReporter(pingUrl: string): RunReporter {
  return {
    // A start is worth little next to the command itself: one quick try.
    start: (runId) => sendPing(pingUrlFor(pingUrl, "start", runId), { timeoutMs: 2_000, tries: 1 }),
    finish: (runId, r) => sendPing(pingUrlFor(pingUrl, String(r.exitCode), runId), { body: r.output }),
  };
}

export const TAIL_BYTES = 10 * 1024;

interface ExecArgs {
  pingUrl: string | null;
  job: string | null;
  stateDir: string | null;
  timeout: string | null;
  command: string[];
}

/**
 * Reads our flags up to `--` or the first word that is not one of them: the rest is the command,
 * untouched (its own flags, `--help` included, are its business).
 */
export function parseExecArgs(rawArgs: string[]): ExecArgs {
  const out: ExecArgs = { pingUrl: null, job: null, stateDir: null, timeout: null, command: [] };
  const flags: Record<string, "pingUrl" | "timeout" | "job" | "stateDir"> = {
    "--ping-url": "pingUrl",
    "--timeout": "timeout",
    "--job": "job",
    "--state-dir": "stateDir",
  };
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") {
      out.command = rawArgs.slice(i + 1);
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      out.command = rawArgs.slice(i);
      break;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    const key = flags[name];
    if (!key) throw new UsageError(`unknown option ${name}; put the command after --`);
    const value = eq > 0 ? a.slice(eq + 1) : rawArgs[++i];
    if (value === undefined || value === "") throw new UsageError(`${name} needs a value`);
    out[key] = value;
  }
  if (out.command.length === 0) throw new UsageError("no command given: crontopus exec --ping-url URL -- COMMAND [ARGS…]");
  if (out.pingUrl === null && out.job === null) throw new UsageError("--ping-url (or --job, in agent mode) is required");
  if (out.pingUrl !== null && out.job !== null) throw new UsageError("give --ping-url or --job, not both");
  return out;
}

async function parseTimeout(value: string): Promise<number> {
  // Loaded only when asked for: exec runs on every cron tick and should start fast.
  const { parseDuration } = await import("../jobs/schedule");
  let seconds: number;
  try {
    seconds = parseDuration("--timeout", value);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (seconds === 0) throw new UsageError("--timeout: must be at least 1s");
  return seconds;
}

export async function execCommand(rawArgs: string[]): Promise<number> {
  const args = parseExecArgs(rawArgs);
  if (args.job !== null) {
    const { execJob } = await import("../../agent/exec");
    return execJob({ jobId: args.job, stateDir: args.stateDir, timeout: args.timeout === null ? null : await parseTimeout(args.timeout), command: args.command, run: runCommand });
  }
  const pingUrl = checkPingUrl(args.pingUrl!, "--ping-url");
  const timeoutS = args.timeout === null ? null : await parseTimeout(args.timeout);
  const reporter = pingReporter(pingUrl);
  const runId = crypto.randomUUID();

  await reporter.start(runId).catch((e: Error) => warn(`could not report the start: ${e.message}`));
  const tail = new Tail(TAIL_BYTES);
  const { exitCode, note } = await runCommand(args.command, timeoutS, tail);
  const text = tail.text();
  const output = note ? `${text}${text && !text.endsWith("\n") ? "\n" : ""}crontopus: ${note}\n` : text;
  await reporter.finish(runId, { exitCode, output }).catch((e: Error) => warn(`could not report the result: ${e.message}`));
  return exitCode;
}

export default defineCommand({
  meta: { name: "exec", description: "Run a command and report its start, exit code, duration and output to a ping URL" },
  args: {
    "ping-url": { type: "string", description: "The job's ping URL", valueHint: "URL" },
    job: { type: "string", description: "Agent mode: the job id; env, working directory, timeout and where to report come from the agent's cache", valueHint: "UUID" },
    "state-dir": { type: "string", description: "Agent mode: the agent state directory holding the job's cache", valueHint: "DIR" },
    timeout: { type: "string", description: "Kill the command (and what it started) after this long: 30s, 5m, 1h…; exit 124", valueHint: "DURATION" },
    command: { type: "positional", required: false, description: "The command and its arguments, after --: exec --ping-url URL -- COMMAND [ARGS…]", valueHint: "COMMAND" },
  },
  async run({ rawArgs }) {
    const code = await execCommand(rawArgs);
    // The command's exit code is ours, without an error line: leave before the CLI's own exit handling.
    process.exit(code);
  },
});
