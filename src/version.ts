import pkg from "../package.json" with { type: "json" };
export const VERSION: string = pkg.version;

// scripts/build.ts bakes the commit into a compiled binary (`--define CRONTOPUS_COMMIT=…`);
// run from source the identifier is undeclared and `typeof` says so without throwing.
declare const CRONTOPUS_COMMIT: string | undefined;

/** The commit this code was built from: baked into a binary, else asked of git for a checkout, else "unknown". */
export function commitOf(): string {
  if (typeof CRONTOPUS_COMMIT === "string") return CRONTOPUS_COMMIT;
  try {
    const git = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: import.meta.dir, stdout: "pipe", stderr: "ignore" });
    if (git.exitCode === 0) return git.stdout.toString().trim();
  } catch {
    // No git on this machine.
  }
  return "unknown";
}
