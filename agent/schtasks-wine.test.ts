// The optional tier: wine's schtasks.exe for real, through systemRunner, in a throw-away
// WINEPREFIX. Skipped where wine is not installed (the usual case). What wine 8 can show:
// /Create /XML and /Delete work and keep a task file under the prefix; /Query prints
// nothing (so TaskSchedulerBackend.apply reports every task as drifted there), stored tasks
// lose their triggers and actions, and a truncated XML file makes /Create spin for ever.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandTimeout, systemRunner } from "./spawn";
import { taskXml, utf16le, type TaskEntry } from "./taskxml";

const wine = Bun.which("wine");
const prefix = mkdtempSync(join(tmpdir(), "crontopus-wine-"));
const env = ["env", `WINEPREFIX=${prefix}`, "WINEDEBUG=-all"];
const schtasks = (...args: string[]) => [...env, wine ?? "wine", "schtasks", ...args];
/** Wine maps the Unix root to drive Z:. */
const winPath = (unix: string) => `Z:${unix.replace(/\//g, "\\")}`;
const tasksDir = join(prefix, "drive_c", "windows", "system32", "tasks", "Crontopus");

const BACKUP: TaskEntry = {
  jobId: "11111111-1111-4111-8111-111111111111",
  ref: "ops/db-backup",
  schedule: "0 2 * * *",
  timezone: "UTC",
  command: ["C:\\Program Files\\Crontopus\\crontopus.exe", "exec", "--job", "11111111-1111-4111-8111-111111111111", "--", "cmd", "/c", "echo hi"],
  paused: false,
};

afterAll(async () => {
  if (wine) await systemRunner.run([...env, "wineserver", "-k"], { timeoutMs: 30_000 }).catch(() => undefined);
  rmSync(prefix, { recursive: true, force: true });
});

describe.skipIf(!wine)("schtasks under wine", () => {
  test("creates a task from UTF-16 XML and deletes it again", async () => {
    const file = join(prefix, "backup.xml");
    writeFileSync(file, utf16le(taskXml(BACKUP, { timezone: "UTC" })));

    // The first command also creates the prefix, which takes a while.
    const created = await systemRunner.run(schtasks("/Create", "/TN", "\\Crontopus\\ops.db-backup", "/XML", winPath(file), "/F"), { timeoutMs: 180_000 });
    expect(created.code).toBe(0);
    const stored = join(tasksDir, "ops.db-backup");
    expect(existsSync(stored)).toBe(true);
    expect(new TextDecoder(readFileSync(stored)[0] === 0xff ? "utf-16le" : "utf-8").decode(readFileSync(stored))).toContain("crontopus:job");

    const deleted = await systemRunner.run(schtasks("/Delete", "/TN", "\\Crontopus\\ops.db-backup", "/F"), { timeoutMs: 60_000 });
    expect(deleted.code).toBe(0);
    expect(existsSync(stored)).toBe(false);
  }, 300_000);

  test("a truncated XML file is killed at the time limit instead of spinning for ever", async () => {
    const file = join(prefix, "truncated.xml");
    const bytes = utf16le(taskXml(BACKUP, { timezone: "UTC" }));
    // Cut at a whole UTF-16 code unit, mid-document.
    writeFileSync(file, bytes.subarray(0, 2 + 2 * Math.floor(bytes.length / 4)));
    const run = systemRunner.run(schtasks("/Create", "/TN", "\\Crontopus\\truncated", "/XML", winPath(file), "/F"), { timeoutMs: 15_000 });
    await expect(run).rejects.toBeInstanceOf(CommandTimeout);
  }, 120_000);
});
