// The command runner of `crontopus exec`, in both its modes (a ping URL, or an agent job):
// starts the user's command as cron would, with cron's stdin, copies its stdout and stderr
// through to ours while a sink keeps what will be reported, enforces the timeout, and says how
// it ended as a shell would (127 not found, 126 cannot run, 124 timed out, 128+n killed by n).
import { constants } from "node:os";
import { warn } from "../src/cli/output";

/** Where the output goes to be reported (a HeadTail or Tail of src/headtail.ts). */
export interface OutputSink {
  push(chunk: Uint8Array): void;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string | null;
}

/** Copies a child's stream to ours, keeping its tail; a closed terminal or pipe on our side does not stop the copy. */
async function pump(stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream, tail: OutputSink): Promise<void> {
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

export type RunCommand = typeof runCommand;

/**
 * Runs the command to its end, its output copied to ours and pushed to `tail` as it comes;
 * never throws for anything the command does. A timeout kills its process group (TERM, then
 * KILL after 5 s) and gives exit code 124; signals we receive are passed on to it.
 */
export async function runCommand(
  command: string[],
  timeoutS: number | null,
  tail: OutputSink,
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
