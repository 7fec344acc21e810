// Dedicated host users for tests that drive the real `crontab`: tests never touch root's
// own crontab, and runs of the suite that overlap take turns on each user.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
