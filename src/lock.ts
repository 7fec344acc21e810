// One server per data directory. The lock is an empty SQLite database, `crontopus.lock`, held
// in an open write transaction (BEGIN IMMEDIATE) for the life of the process. SQLite takes an
// OS lock on the file for it (fcntl on Unix, LockFileEx on Windows), and the kernel drops that
// lock when the process ends in any way, SIGKILL and power loss included: a stale lock cannot
// outlive its holder, so nothing ever has to guess whether a pid is still alive. Taking it
// writes nothing (the file stays 0 bytes), so it works on a full disk too.
// Only `serve` (and a restore) takes it; admin, config, migrate and backup share the database
// through SQLite's own locking, beside a live server.
import { Database } from "bun:sqlite";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE = "crontopus.lock";
/** Who holds the lock, for the message a second server prints; the lock itself is the OS's. */
const PID_FILE = "crontopus.pid";

/** Another process holds the data directory. */
export class DataDirLocked extends Error {}

export interface DataDirLock {
  release(): void;
}

function holderPid(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, PID_FILE), "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0); // throws when no such process: an old file, not the holder
    return pid;
  } catch {
    return null;
  }
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // A read-only file system: the file is only a hint, and the lock goes anyway.
  }
}

/** Takes the data directory for this process, or throws DataDirLocked naming the holder. */
export function lockDataDir(dir: string): DataDirLock {
  const path = join(dir, LOCK_FILE);
  // Private like the database files (SQLite would create it 0644).
  if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
  const db = new Database(path, { create: true });
  try {
    db.exec("PRAGMA busy_timeout = 0");
    db.exec("BEGIN IMMEDIATE");
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code === "SQLITE_BUSY") {
      const pid = holderPid(dir);
      throw new DataDirLocked(
        `the data directory ${dir} is in use by another Crontopus server${pid ? ` (pid ${pid})` : ""}; stop it first, or choose another --data-dir`,
      );
    }
    throw e;
  }
  const pidFile = join(dir, PID_FILE);
  try {
    writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  } catch {
    // A full disk: better no file than one naming an earlier holder.
    removeQuietly(pidFile);
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      removeQuietly(pidFile);
      db.close(); // ends the transaction: the OS lock goes with it
    },
  };
}
