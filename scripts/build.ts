// `bun run build [PLATFORM…]`: the single binaries, dist/crontopus-<os>-<arch> (.exe for Windows),
// for every platform an agent runs on, or for the ones named (e.g. `bun run build linux-x64`).
// Each is the whole of Crontopus (serve, the CLI, agent) with its migrations, views and assets
// embedded; `crontopus version` names the commit it was built from (CRONTOPUS_COMMIT, else git).
//
// A cross-compile starts from the Bun runtime of the target platform, which Bun publishes on npm as
// @oven/bun-<os>-<arch>. Bun would fetch it from registry.npmjs.org itself; npm fetches it here
// instead (`npm pack`, checked against the registry's integrity), so the build uses the registry
// and CA that `npm ci` used (NPM_CONFIG_REGISTRY, NODE_EXTRA_CA_CERTS) and npm's cache.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const DIST = join(ROOT, "dist");

/**
 * Each platform's Bun runtime package. x64 builds start from Bun's "baseline" runtime, which needs
 * no AVX2: agents run on old servers and on VMs whose virtual CPU lacks it (QEMU's and Proxmox's
 * default models), where the default runtime stops with "Illegal instruction".
 */
export const PLATFORMS = {
  "linux-x64": "linux-x64-baseline",
  "linux-arm64": "linux-aarch64",
  "darwin-x64": "darwin-x64-baseline",
  "darwin-arm64": "darwin-aarch64",
  "windows-x64": "windows-x64-baseline",
  "windows-arm64": "windows-aarch64",
} as const;

export type Platform = keyof typeof PLATFORMS;

/** The file a platform's binary is written to, and served from by GET /download/<platform>. */
export function binaryName(platform: Platform): string {
  return `crontopus-${platform}${platform.startsWith("windows-") ? ".exe" : ""}`;
}

/** The commit to bake in: CRONTOPUS_COMMIT (a Docker build has no .git), else git's HEAD with -dirty for local changes. */
export function buildCommit(env: Record<string, string | undefined> = process.env): string {
  if (env.CRONTOPUS_COMMIT) return env.CRONTOPUS_COMMIT;
  const git = (...args: string[]) => {
    try {
      const r = Bun.spawnSync(["git", ...args], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
      return r.exitCode === 0 ? r.stdout.toString().trim() : null;
    } catch {
      return null;
    }
  };
  const head = git("rev-parse", "--short=12", "HEAD");
  if (!head) return "unknown";
  return git("status", "--porcelain", "--untracked-files=no") ? `${head}-dirty` : head;
}

/**
 * `bun build --compile` arguments for one binary. Without `runtime` it is built for this machine
 * with the running Bun. The checkpoint worker is a second entry point: a binary can only start a
 * Worker whose module it carries.
 */
export function compileArgs(outfile: string, commit: string, runtime?: { platform: Platform; executable: string }): string[] {
  return [
    "build",
    "--compile",
    "--minify",
    // Bytecode starts the binary ~3x faster (the agent's `exec` runs on every cron run); ESM keeps top-level await.
    "--bytecode",
    "--format=esm",
    // A bunfig.toml in whatever directory the binary runs in could preload code into it.
    "--no-compile-autoload-bunfig",
    "--define",
    `CRONTOPUS_COMMIT=${JSON.stringify(commit)}`,
    ...(runtime ? [`--target=bun-${PLATFORMS[runtime.platform]}`, `--compile-executable-path=${runtime.executable}`] : []),
    join(ROOT, "src/main.ts"),
    join(ROOT, "src/checkpointer.ts"),
    "--outfile",
    outfile,
  ];
}

function run(cmd: string[], cwd = ROOT): string {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} failed (exit ${r.exitCode}):\n${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

/** Fetches @oven/bun-<runtime>@<this Bun's version> with npm into `dir` and returns its executable. */
function fetchRuntime(platform: Platform, dir: string): string {
  const spec = `@oven/bun-${PLATFORMS[platform]}@${Bun.version}`;
  const into = join(dir, platform);
  mkdirSync(into);
  const [packed] = JSON.parse(run(["npm", "pack", spec, "--pack-destination", into, "--json", "--loglevel=error"])) as { filename: string }[];
  run(["tar", "-xzf", packed!.filename], into);
  const bin = join(into, "package", "bin");
  const exe = readdirSync(bin).find((f) => f === "bun" || f === "bun.exe");
  if (!exe) throw new Error(`${spec} has no bin/bun`);
  return join(bin, exe);
}

export function build(platforms: Platform[]): void {
  const commit = buildCommit();
  mkdirSync(DIST, { recursive: true });
  const runtimes = mkdtempSync(join(tmpdir(), "crontopus-runtimes-"));
  console.log(`crontopus build: commit ${commit}, bun ${Bun.version}`);
  try {
    for (const platform of platforms) {
      const started = performance.now();
      const executable = fetchRuntime(platform, runtimes);
      const fetched = performance.now();
      const outfile = join(DIST, binaryName(platform));
      run([process.execPath, ...compileArgs(outfile, commit, { platform, executable })]);
      const mb = (statSync(outfile).size / 1e6).toFixed(1);
      const s = (t: number) => (t / 1000).toFixed(1);
      console.log(`  ${relative(ROOT, outfile).padEnd(36)} ${mb.padStart(6)} MB  (runtime ${s(fetched - started)} s, compile ${s(performance.now() - fetched)} s)`);
    }
  } finally {
    rmSync(runtimes, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const named = process.argv.slice(2);
  const unknown = named.filter((p) => !(p in PLATFORMS));
  if (unknown.length) {
    console.error(`error: unknown platform ${unknown.join(", ")}: expected ${Object.keys(PLATFORMS).join(", ")}`);
    process.exit(2);
  }
  try {
    build(named.length ? (named as Platform[]) : (Object.keys(PLATFORMS) as Platform[]));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}
