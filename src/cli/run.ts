// Runs a citty command tree with Crontopus's CLI contract:
// exit 0 ok, 1 failure, 2 usage error; errors are one line on stderr, never a stack trace.
import { runCommand, runMain, type CommandDef } from "citty";
import { AppError } from "../errors";
import { ConfigError } from "../config";

/** Wrong flags or arguments: exit 2. */
export class UsageError extends Error {}

/** A failure already explained to the user: exit 1 with this message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

export function fail(message: string, exitCode = 1): never {
  throw new CliError(message, exitCode);
}

/** Whether the user asked for help: only our own words count, not those of a command after `--`. */
function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf("--");
  const ours = end < 0 ? argv : argv.slice(0, end);
  // exec takes its command without `--` too: only a help flag right after "exec" is ours.
  if (ours[0] === "exec") return ours[1] === "--help" || ours[1] === "-h";
  return ours.includes("--help") || ours.includes("-h");
}

/**
 * A failure as the CLI reports it: one line for stderr and the exit code. A domain error
 * (errors.ts) is a failure, exit 1, told by its message alone ("spec.schedule: …", "tenant not found").
 */
export function describeFailure(e: unknown): { line: string; exitCode: number } {
  const err = e as Error & { code?: string };
  let exitCode = 1;
  let msg = err?.message ?? String(e);
  if (e instanceof UsageError || (typeof err.code === "string" && /^E(ARG|_UNKNOWN_COMMAND|_NO_COMMAND)$/.test(err.code))) {
    exitCode = 2;
    msg = `${stripAnsi(msg)} (see --help)`;
  } else if (e instanceof CliError) {
    exitCode = e.exitCode;
  } else if (e instanceof AppError || e instanceof ConfigError) {
    exitCode = 1;
  } else if (!(e instanceof Error)) {
    msg = String(e);
  }
  return { line: `error: ${stripAnsi(msg).split("\n")[0]}`, exitCode };
}

export async function runCli(cmd: CommandDef<any>, argv: string[]): Promise<number> {
  if (argv.length === 0 || wantsHelp(argv)) {
    await runMain(cmd, { rawArgs: argv.length ? argv : ["--help"] });
    return 0;
  }
  try {
    await runCommand(cmd, { rawArgs: argv });
    // A command that succeeded may still answer with a code of its own (gitops plan --exit-code).
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    const { line, exitCode } = describeFailure(e);
    process.stderr.write(`${line}\n`);
    return exitCode;
  }
}
