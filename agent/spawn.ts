// The process-spawning seam: the one place the agent starts a program to drive the host
// (crontab, schtasks, systemctl, launchctl), with a hard time limit. host.ts spawns crontab
// through spawnBounded; the Task Scheduler backend (schtasks.ts) and the service installer
// (service.ts) take a CommandRunner, and their tests pass a fake that plays the program.
// (The user's own command, under `crontopus exec`, is started by agent/runner.ts.)

export interface CommandRunner {
  run(argv: string[], opts: { input?: Uint8Array; timeoutMs: number }): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** A command that ran past its time limit; it has been killed. */
export class CommandTimeout extends Error {
  constructor(
    readonly argv: string[],
    readonly timeoutMs: number,
  ) {
    super(`${argv.join(" ")} did not finish within ${timeoutMs}ms and was killed`);
    this.name = "CommandTimeout";
  }
}

/**
 * Runs argv to completion with a hard time limit: on timeout the process (and, on POSIX, its
 * process group: it runs detached) gets SIGKILL, we stop waiting for its output at once and
 * reject with CommandTimeout. Wine's schtasks spins for ever on a truncated XML file, and an
 * editor started by `crontab -e` would outlive its crontab. The one place the agent spawns.
 */
export async function spawnBounded(
  argv: string[],
  opts: { input?: Uint8Array; timeoutMs: number; env?: Record<string, string> },
): Promise<{ code: number; stdout: Uint8Array; stderr: Uint8Array }> {
  const posix = process.platform !== "win32";
  const proc = Bun.spawn(argv, {
    stdin: opts.input ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: posix,
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        if (posix) process.kill(-proc.pid, "SIGKILL");
        else proc.kill("SIGKILL");
      } catch {
        proc.kill("SIGKILL");
      }
      reject(new CommandTimeout(argv, opts.timeoutMs));
    }, opts.timeoutMs);
  });
  const finished = Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).bytes(), proc.exited]);
  try {
    const [stdout, stderr, code] = await Promise.race([finished, expired]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs commands with spawnBounded and decodes their output. */
export const systemRunner: CommandRunner = {
  async run(argv, { input, timeoutMs }) {
    const { code, stdout, stderr } = await spawnBounded(argv, { input, timeoutMs });
    return { code, stdout: decodeOutput(stdout), stderr: decodeOutput(stderr) };
  },
};

/**
 * Command output as text. schtasks writes its console code page to a pipe on most systems
 * but UTF-16 on some; the parts we parse (task names, markers) are ASCII either way.
 */
export function decodeOutput(bytes: Uint8Array): string {
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes.length >= 4 && bytes[1] === 0 && bytes[3] === 0 && bytes[0] !== 0);
  return new TextDecoder(utf16 ? "utf-16le" : "utf-8").decode(bytes);
}
