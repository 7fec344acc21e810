// exec --ping-url URL [--timeout DURATION] -- COMMAND [ARGS…]: runs a command as cron would,
// reporting its start and its result (exit code, duration, the tail of its output). The command
// always runs and its exit code is always ours: reporting problems are warnings on stderr.
import { defineCommand } from "citty";
import { constants } from "node:os";
import { checkPingUrl, pingUrlFor, sendPing } from "./ping";
import { UsageError } from "./run";
import { warn } from "./output";

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

/** Keeps the last `limit` bytes of a stream of chunks. */
export class Tail {
  private chunks: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly limit = TAIL_BYTES) {}

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= this.limit) this.size -= this.chunks.shift()!.length;
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    let start = Math.max(0, all.length - this.limit);
    // Do not start in the middle of a UTF-8 character.
    while (start < all.length && start > 0 && (all[start]! & 0xc0) === 0x80) start++;
    return all.subarray(start).toString("utf8");
  }
}

/** Keeps the first and the last `limit / 2` bytes of a stream; what lies between is counted, not kept. */
export class HeadTail {
  private head: Uint8Array[] = [];
  private headSize = 0;
  private readonly tail: Tail;
  private total = 0;

  constructor(private readonly limit: number) {
    this.tail = new Tail(limit - Math.floor(limit / 2));
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length;
    const room = Math.floor(this.limit / 2) - this.headSize;
    if (room > 0) {
      const part = chunk.subarray(0, room);
      this.head.push(part);
      this.headSize += part.length;
      if (part.length === chunk.length) return;
      chunk = chunk.subarray(room);
    }
    this.tail.push(chunk);
  }

  text(): string {
    const head = Buffer.concat(this.head);
    if (this.total <= this.limit) return Buffer.concat([head, Buffer.from(this.tail.text(), "utf8")]).toString("utf8");
    const tail = this.tail.text();
    const dropped = this.total - head.length - Buffer.byteLength(tail);
    return `${head.toString("utf8").replace(/\uFFFD$/, "")}\n[… ${dropped} bytes cut …]\n${tail}`;
  }
}

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

/** Copies a child's stream to ours, keeping its tail; a closed terminal or pipe on our side does not stop the copy. */
async function pump(stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream, tail: Sink): Promise<void> {
  let writable = true;
  // Errors also come to each write's callback; this listener only keeps them from being thrown.
  out.on("error", () => {});
  const reader = stream.getReader();
  for (;;) {
    const { done, value: chunk } = await reader.read();
    if (done) break;
    tail.push(chunk);
    if (!writable) continue;
    // One write at a time: the callback is our backpressure, and reports a reader that went away
    // (EPIPE), which never sends "drain".
    writable = await new Promise<boolean>((resolve) => {
      try {
        out.write(chunk, (err) => resolve(!err));
      } catch {
        resolve(false);
      }
    });
  }
}

/** Runs the command to its end; never throws for anything the command does. */
interface Sink {
  push(chunk: Uint8Array): void;
}

interface RunOptions {
  env?: Record<string, string>;
  cwd?: string | null;
}

export type RunCommand = typeof runCommand;

async function runCommand(
  command: string[],
  timeoutS: number | null,
  tail: Sink,
  opts: RunOptions = {},
): Promise<{ exitCode: number; note: string | null; timedOut: boolean }> {
  let proc: Bun.Subprocess<"inherit", "pipe", "pipe">;
  try {
    // With a timeout the command gets its own process group, so killing it kills what it started too.
    proc = Bun.spawn(command, {
      stdin: "inherit",
      stdout: "pipe",
      stderr: "pipe",
      detached: timeoutS !== null,
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const note = code === "ENOENT" ? `${command[0]}: command not found` : `${command[0]}: cannot run: ${(e as Error).message}`;
    process.stderr.write(`crontopus: ${note}\n`);
    // As a shell: 127 for a command that is not there, 126 for one that cannot be run.
    return { exitCode: code === "ENOENT" ? 127 : 126, note, timedOut: false };
  }
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (timeoutS !== null) process.kill(-proc.pid, signal);
      else proc.kill(signal);
    } catch {}
  };
  // Signals for us are for the command; we stay to report how it ended. Ctrl-C already reaches a
  // command in our process group.
  const forward = (signal: NodeJS.Signals) => () => {
    if (signal !== "SIGINT" || timeoutS !== null) kill(signal);
  };
  const handlers = (["SIGTERM", "SIGHUP", "SIGINT"] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);

  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const timer =
    timeoutS === null
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          kill("SIGTERM");
          killTimer = setTimeout(() => kill("SIGKILL"), 5_000);
        }, timeoutS * 1000);

  const pumps = Promise.all([pump(proc.stdout, process.stdout, tail), pump(proc.stderr, process.stderr, tail)]);
  await proc.exited;
  clearTimeout(timer);
  clearTimeout(killTimer);
  for (const [s, h] of handlers) process.off(s, h);
  // Something the command left running in the background may hold its output open: do not wait for it.
  await Promise.race([pumps, Bun.sleep(1_000)]);

  if (timedOut) {
    // Whatever in its group ignored SIGTERM and outlived it.
    kill("SIGKILL");
    const note = `timed out after ${timeoutS}s; killed`;
    warn(`command ${note}`);
    return { exitCode: 124, note, timedOut: true };
  }
  const signal = proc.signalCode;
  if (!signal) return { exitCode: proc.exitCode ?? 1, note: null, timedOut: false };
  return { exitCode: 128 + (typeof signal === "number" ? signal : constants.signals[signal]), note: `killed by ${signal}`, timedOut: false };
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
  const tail = new Tail();
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
