import { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { MIGRATIONS, type Migration } from "./migrations";
import { StorageUnavailable } from "./errors";

export type Db = Database;

export class DbError extends Error {}

/** Page cache per connection, in KiB (64 MB; the memory is taken only as pages are used). */
const CACHE_KIB = 65_536;

/** Opens (creating if needed) a database with the settings Crontopus relies on. */
export function openDb(path: string, opts: { sync?: "NORMAL" | "FULL" } = {}): Db {
  if (path !== ":memory:") restrictModes(path);
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`PRAGMA synchronous = ${opts.sync ?? "NORMAL"}`);
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA busy_timeout = 5000");
  // SQLite's default page cache is 2 MB: smaller than the jobs table and the log's hot pages
  // of a busy server, which then reads the same pages back from the OS all the time.
  db.exec(`PRAGMA cache_size = -${CACHE_KIB}`);
  return db;
}

/**
 * The data directory 0700 and the database files 0600, created so or tightened if older code
 * left them 0755 / 0644. SQLite gives the -wal and -shm files it creates the database's mode.
 */
function restrictModes(path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    const st = statSync(dir);
    // Only a directory of our own, and never a shared one such as /tmp (sticky bit).
    if ((st.mode & 0o077) !== 0 && (st.mode & 0o1000) === 0 && st.uid === process.getuid?.()) chmodSync(dir, 0o700);
  } catch {}
  if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch {}
  }
}

export function schemaVersion(db: Db): number {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
  );
  const row = db.query<{ v: number | null }, []>("SELECT max(version) AS v FROM schema_migrations").get();
  return row?.v ?? 0;
}

/** The migrations a database still needs; throws DbError for a database a newer Crontopus wrote. */
export function pendingMigrations(db: Db, migrations: readonly Migration[] = MIGRATIONS): Migration[] {
  const current = schemaVersion(db);
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new DbError(
      `database schema version ${current} is newer than this Crontopus (knows up to ${latest}); upgrade Crontopus or restore a backup`,
    );
  }
  return migrations.filter((m) => m.version > current);
}

/** Applies pending migrations in order, each in its own transaction. Returns the names applied. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS, now = Date.now()): string[] {
  const current = schemaVersion(db);
  pendingMigrations(db, migrations);
  const applied: string[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, now);
    })();
    applied.push(m.name);
  }
  return applied;
}

/** SQLite's result codes for "the storage cannot take this write", and what they mean to a person. */
const STORAGE_FAULTS: [RegExp, string][] = [
  [/^SQLITE_FULL/, "the disk is full"],
  [/^SQLITE_READONLY/, "the database is read-only"],
  [/^SQLITE_IOERR/, "an I/O error on the database"],
  [/^SQLITE_CANTOPEN/, "a database file cannot be opened"],
  [/^ENOSPC$/, "the disk is full"],
  [/^EROFS$/, "the file system is read-only"],
];

/**
 * A storage fault as the domain error every surface renders as 503 (already one: itself);
 * null for any other error. Only these mean "nothing was stored, try again later".
 */
export function storageFault(e: unknown): StorageUnavailable | null {
  if (e instanceof StorageUnavailable) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return null;
  for (const [re, reason] of STORAGE_FAULTS) if (re.test(code)) return new StorageUnavailable(reason);
  return null;
}

/** A JSON text column as its value; NULL is `fallback`. */
export function parseJsonColumn<T>(text: string | null, fallback: T): T {
  return text == null ? fallback : (JSON.parse(text) as T);
}
