#!/usr/bin/env node
// The `crontopus` that `npm install -g` puts on PATH. Crontopus runs on Bun, and npm installs the
// pinned Bun with it (the `bun` dependency), so a machine with only Node and npm needs nothing
// else: this starts that Bun on src/main.ts and passes the exit status back. The crontab lines
// that `agent` writes call Bun directly, not this launcher.
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

function findBun() {
  let dir;
  try {
    dir = dirname(createRequire(import.meta.url).resolve("bun/package.json"));
  } catch {
    // `npm install -g .` links a checkout and installs nothing into it.
    const root = fileURLToPath(new URL("..", import.meta.url));
    fail(`Bun is not installed in ${root}: run \`npm ci\` there, or install a copy with \`npm install -g --install-links .\``);
  }
  // Bun's postinstall puts the binary for this platform at bin/bun.exe; until it has run, that
  // file is a 450-byte script that says so.
  const linked = join(dir, "bin", "bun.exe");
  if (statSync(linked).size > 1_000_000) return linked;
  // Install scripts did not run (--ignore-scripts, npm's allow-scripts): the binary is still in
  // the platform package npm installed as one of Bun's optional dependencies.
  const fromBun = createRequire(join(dir, "package.json"));
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = process.arch === "arm64" ? "aarch64" : process.arch;
  for (const variant of ["", "-musl", "-baseline", "-musl-baseline"]) {
    try {
      const pkg = dirname(fromBun.resolve(`@oven/bun-${os}-${arch}${variant}/package.json`));
      return join(pkg, "bin", os === "windows" ? "bun.exe" : "bun");
    } catch {}
  }
  return linked;
}

const bun = findBun();
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
// Bun reads no tsconfig.json inside node_modules, where npm puts this package: without ours the
// views' JSX would be compiled for React. (The commands that crontab lines and services run,
// `exec` and `agent run`, load no view.)
const tsconfig = fileURLToPath(new URL("../tsconfig.json", import.meta.url));
const child = spawn(bun, [`--tsconfig-override=${tsconfig}`, main, ...process.argv.slice(2)], { stdio: "inherit" });
child.on("error", (e) => fail(`cannot start Bun at ${bun}: ${e.code ?? e.message}`));

// Ctrl-C reaches Bun through the terminal's process group already; other signals sent to this
// process are passed on. While Bun runs, this process only waits.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1)));
