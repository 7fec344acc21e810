// Dedicated host users for tests that drive the real `crontab`: tests never touch root's
// own crontab, and runs of the suite that overlap take turns on each user. And the ways those
// tests reach the host: the CLI run as a systemd unit runs it, a user's crontab read and written.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, MAIN } from "./helpers";

/** Creates a system user with no home and no login, unless it exists. */
export function ensureUser(name: string): void {
  if (spawnSync("id", ["-u", name]).status === 0) return;
  const r = spawnSync("useradd", ["-M", "-r", "-s", "/usr/sbin/nologin", name], { encoding: "utf8" });
  // Another test file may have created it in the meantime.
  if (r.status !== 0 && spawnSync("id", ["-u", name]).status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
}

/**
 * Holds a lock on a test user until the returned function is called, so that two runs of the
 * suite at once (engineers sharing a machine) take turns instead of sharing a crontab.
 */
export async function lockUser(name: string): Promise<() => void> {
  const dir = join(tmpdir(), `crontopus-test-${name}.lock`);
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, "pid"), String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    // A run that was killed leaves its lock behind: take it over once its process is gone.
    const holder = Number(existsSync(join(dir, "pid")) ? readFileSync(join(dir, "pid"), "utf8") : 0);
    if (holder > 0 && spawnSync("kill", ["-0", String(holder)]).status !== 0) rmSync(dir, { recursive: true, force: true });
    if (Date.now() > until) throw new Error(`test user ${name} is still locked by another run (${dir})`);
    await Bun.sleep(50);
  }
}

/** The only variable a systemd unit without Environment= gives its service. */
export const UNIT_PATH = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

/** Runs the CLI as the agent's unit does: nothing in the environment but PATH; as `user` when given. */
export async function bare(args: string[], o: { user?: string; path?: string } = {}) {
  const argv = ["env", "-i", o.path ? `PATH=${o.path}` : UNIT_PATH, BUN, MAIN, ...args];
  const proc = Bun.spawn(o.user ? ["runuser", "-u", o.user, "--", ...argv] : argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** The user's crontab as the real `crontab -l` prints it ("" when they have none). */
export function crontabOf(user: string): string {
  const r = spawnSync("crontab", ["-u", user, "-l"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout : "";
}

export function installCrontab(user: string, text: string): void {
  const r = spawnSync("crontab", ["-u", user, "-"], { input: text, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`crontab: ${r.stderr}`);
}

/** The entry lines the agent wrote (they run `crontopus exec --job <id>`). */
export const managedLines = (text: string) => text.split("\n").filter((l) => l.includes("exec --job"));
