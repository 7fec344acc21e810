// Backups and restore of the one database. A backup is SQLite's `VACUUM INTO`: one statement in
// one read transaction, so it is a consistent snapshot of every commit made before it began,
// taken beside a live server (WAL mode: a reader never blocks the writer). It is written to a
// temporary name, synced, checked and renamed, so a file with a backup's name is always a whole
// one. A restore puts a checked copy of a backup in place of the database under the data
// directory's lock, so it is refused while a server runs on that directory.
import { Database } from "bun:sqlite";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { DbError, migrate, pendingMigrations, schemaVersion, type Db } from "../db";
import { MIGRATIONS } from "../migrations";
import { lockDataDir } from "../lock";
import { decryptSecret, loadSecretKey } from "../secrets";

/** Where `serve` writes its own backups (scheduled ones, and those taken before a migration or a restore). */
export const BACKUP_DIR = "backups";

export interface BackupResult {
  file: string;
  bytes: number;
  ms: number;
  schema_version: number;
  checkins: number;
}

/** `crontopus-20261203T021500Z<suffix>.db`: names sort by time. */
export function backupName(now: number, suffix = ""): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `crontopus-${stamp}${suffix}.db`;
}

/** Scheduled backups only: retention never deletes those taken before a migration or a restore. */
const SCHEDULED = /^crontopus-\d{8}T\d{6}Z\.db$/;

export function backupDir(dataDir: string): string {
  return join(dataDir, BACKUP_DIR);
}

function fsyncPath(path: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(path, "r");
    fsyncSync(fd);
  } catch {
    // Some file systems refuse to sync a directory; the rename is still atomic.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** The one statement that copies: the snapshot, written into an empty file of mode 0600, synced. */
function vacuumInto(db: Db, target: string): void {
  // An empty file is allowed as VACUUM INTO's target; creating it first gives it our mode.
  closeSync(openSync(target, "wx", 0o600));
  db.query("VACUUM INTO ?").run(target);
  fsyncPath(target);
}

/** What a database file holds, read without changing it; throws DbError when it is not a Crontopus database. */
export function inspectDatabase(path: string): { schema_version: number; checkins: number } {
  let db: Database;
  try {
    db = new Database(path, { readonly: true });
  } catch (e) {
    throw new DbError(`cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    const check = db.query<{ quick_check: string }, []>("PRAGMA quick_check").all();
    if (check.length !== 1 || check[0]!.quick_check !== "ok") throw new DbError(`${path} is damaged: ${check.map((r) => r.quick_check).slice(0, 3).join("; ")}`);
    const hasTable = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!hasTable) throw new DbError(`${path} is not a Crontopus database (it has no schema_migrations table)`);
    const version = db.query<{ v: number | null }, []>("SELECT max(version) AS v FROM schema_migrations").get()?.v ?? 0;
    const hasCheckins = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkins'").get();
    // cross-tenant: a backup is of the whole database, every tenant's check-ins counted.
    const checkins = hasCheckins ? db.query<{ n: number }, []>("SELECT count(*) AS n FROM checkins").get()!.n : 0;
    return { schema_version: version, checkins };
  } catch (e) {
    if (e instanceof DbError) throw e;
    // "file is not a database", and the like.
    throw new DbError(`${path} is not a Crontopus database: ${(e as Error).message}`);
  } finally {
    db.close();
  }
}

/** The same file, whatever path spells it (the directory resolved, the name kept). */
function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return join(realpathSync(dirname(p)), basename(p));
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

/**
 * Writes a consistent snapshot of the database open on `db` to `out` (replacing a file there),
 * checks it and returns what it holds. `dbPath` is the database's own path: never overwritten.
 */
export function backupTo(db: Db, dbPath: string, out: string): BackupResult {
  const file = resolve(out);
  for (const own of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
    if (samePath(file, own)) throw new DbError(`refusing to write a backup over the database itself (${own})`);
  }
  if (!existsSync(dirname(file))) throw new DbError(`cannot write ${file}: no directory ${dirname(file)}`);
  const started = performance.now();
  const partial = `${file}.partial-${process.pid}`;
  try {
    rmSync(partial, { force: true });
    vacuumInto(db, partial);
    const held = inspectDatabase(partial);
    renameSync(partial, file);
    fsyncPath(dirname(file));
    return { file, bytes: statSync(file).size, ms: Math.round(performance.now() - started), ...held };
  } catch (e) {
    rmSync(partial, { force: true });
    if (e instanceof DbError) throw e;
    throw new DbError(`cannot write the backup ${file}: ${(e as Error).message}`);
  }
}

/** Deletes the oldest scheduled backups past `keep`; returns the names deleted. */
export function pruneBackups(dataDir: string, keep: number): string[] {
  const dir = backupDir(dataDir);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => SCHEDULED.test(n)).sort();
  } catch {
    return [];
  }
  const old = names.slice(0, Math.max(0, names.length - keep));
  for (const n of old) rmSync(join(dir, n), { force: true });
  return old;
}

/** A backup into the data directory's backups/ (created 0700), named by time and `suffix`. */
export function backupIntoDataDir(db: Db, dbPath: string, dataDir: string, now: number, suffix = ""): BackupResult {
  const dir = backupDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Left by a process that died mid-backup: never a whole backup.
  for (const n of readdirSync(dir)) if (/\.partial-\d+$/.test(n)) rmSync(join(dir, n), { force: true });
  return backupTo(db, dbPath, join(dir, backupName(now, suffix)));
}

/**
 * Applies pending migrations, after a backup of the database as it was (into backups/, named
 * `…-before-NNNN.db`) when it holds a schema already; nothing is backed up for a new database,
 * or when nothing is pending. A database from a newer Crontopus is refused before anything.
 */
export function migrateWithBackup(db: Db, dbPath: string, dataDir: string, now = Date.now()): { applied: string[]; backup: BackupResult | null } {
  const next = pendingMigrations(db)[0];
  const current = schemaVersion(db);
  let backup: BackupResult | null = null;
  if (next && current > 0) {
    try {
      backup = backupIntoDataDir(db, dbPath, dataDir, now, `-before-${String(next.version).padStart(4, "0")}`);
    } catch (e) {
      throw new DbError(`cannot back up the database before migrating it, so it was not migrated: ${(e as Error).message}`);
    }
  }
  return { applied: migrate(db, MIGRATIONS, now), backup };
}

export interface RestoreResult {
  file: string;
  schema_version: number;
  checkins: number;
  /** The database it replaced, kept in backups/ (null when there was none). */
  replaced: string | null;
  /** Why the channel secrets in it may not open with this data directory's key file, if so. */
  key_warning: string | null;
}

/** Whether the key file opens the backup's sealed channel secrets: a warning when it does not. */
function checkKey(path: string, keyPath: string): string | null {
  const db = new Database(path, { readonly: true });
  let sealed: string | null = null;
  try {
    // cross-tenant: one key seals every tenant's channels; any one of them tells whether it opens.
    sealed = db.query<{ sealed: string }, []>("SELECT sealed FROM channels WHERE sealed IS NOT NULL LIMIT 1").get()?.sealed ?? null;
  } catch {
    // A schema from before channel secrets were sealed.
  } finally {
    db.close();
  }
  if (!sealed) return null;
  if (!existsSync(keyPath)) return `no key file at ${keyPath}: the channel secrets in this backup cannot be read until the key of the installation it came from is put there (or the channels are set up again)`;
  try {
    decryptSecret(loadSecretKey(keyPath), sealed);
    return null;
  } catch {
    return `the key file ${keyPath} does not open the channel secrets in this backup: put the key of the installation it came from there (or set the channels up again)`;
  }
}

/**
 * Keeps the database a restore replaces: a backup of it, or, when it cannot be read as one (the
 * reason for many a restore), its files as they are, moved into backups/.
 */
function setAside(dbPath: string, dataDir: string, now: number): string {
  try {
    const current = new Database(dbPath);
    try {
      return backupIntoDataDir(current, dbPath, dataDir, now, "-before-restore").file;
    } finally {
      current.close();
    }
  } catch {
    const kept = join(backupDir(dataDir), backupName(now, "-before-restore-damaged"));
    mkdirSync(backupDir(dataDir), { recursive: true, mode: 0o700 });
    for (const ext of ["", "-wal"]) if (existsSync(dbPath + ext)) renameSync(dbPath + ext, kept + ext);
    return kept;
  }
}

/**
 * Puts a checked copy of the backup `from` in place of the data directory's database. Takes the
 * directory's lock first, so it is refused while a server runs on it. The database it replaces
 * is backed up first (`…-before-restore.db`). The copy is migrated by the next `serve`.
 */
export function restoreFrom(from: string, dbPath: string, dataDir: string, keyPath: string, now = Date.now()): RestoreResult {
  const source = resolve(from);
  if (!existsSync(source)) throw new DbError(`no file ${source}`);
  if (samePath(source, dbPath)) throw new DbError(`${source} is the database itself`);
  const held = inspectDatabase(source);
  const latest = MIGRATIONS.at(-1)!.version;
  if (held.schema_version > latest) {
    throw new DbError(`${source} has schema version ${held.schema_version}, newer than this Crontopus (knows up to ${latest}); restore it with a newer Crontopus`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(dataDir);
  try {
    const replaced = existsSync(dbPath) || existsSync(`${dbPath}-wal`) ? setAside(dbPath, dataDir, now) : null;
    const incoming = `${dbPath}.restoring-${process.pid}`;
    rmSync(incoming, { force: true });
    const src = new Database(source, { readonly: true });
    try {
      vacuumInto(src, incoming);
    } catch (e) {
      rmSync(incoming, { force: true });
      throw new DbError(`cannot copy ${source}: ${(e as Error).message}`);
    } finally {
      src.close();
    }
    // The old log must go before the new file takes the name: SQLite would replay it into the new one.
    rmSync(`${dbPath}-wal`, { force: true });
    rmSync(`${dbPath}-shm`, { force: true });
    renameSync(incoming, dbPath);
    fsyncPath(dataDir);
    return { file: source, ...held, replaced, key_warning: checkKey(dbPath, keyPath) };
  } finally {
    lock.release();
  }
}
