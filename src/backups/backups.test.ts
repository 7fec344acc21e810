import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDb, schemaVersion } from "../db";
import { MIGRATIONS } from "../migrations";
import { lockDataDir } from "../lock";
import { createUser } from "../auth/identity";
import { createTenant } from "../tenants/tenants";
import { createChannel } from "../alerts/channels";
import { openSecretBox } from "../secrets";
import { tempDir } from "../../test/helpers";
import { backupName, backupTo, inspectDatabase, migrateWithBackup, pruneBackups, restoreFrom } from "./backups";

const NOW = Date.parse("2026-12-03T02:15:00Z");

async function dataDirWithAlice() {
  const dataDir = tempDir();
  const dbPath = join(dataDir, "crontopus.db");
  const db = openDb(dbPath);
  migrate(db);
  const alice = await createUser(db, { email: "alice@example.com", password: "correct horse battery" });
  createTenant(db, { slug: "acme" }, alice.id);
  return { dataDir, dbPath, db };
}

const emails = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.query<{ email: string }, []>("SELECT email FROM users ORDER BY email").all().map((r) => r.email);
  } finally {
    db.close();
  }
};

describe("backupTo", () => {
  test("writes a checked snapshot, mode 0600, and says what it holds", async () => {
    const { dbPath, db } = await dataDirWithAlice();
    const out = join(tempDir(), "b.db");
    const r = backupTo(db, dbPath, out);
    expect(r).toMatchObject({ file: out, schema_version: MIGRATIONS.at(-1)!.version, checkins: 0, bytes: statSync(out).size });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(emails(out)).toEqual(["alice@example.com"]);
    // Replacing an earlier backup of the same name.
    await createUser(db, { email: "bob@example.com", password: "correct horse battery" });
    backupTo(db, dbPath, out);
    expect(emails(out)).toEqual(["alice@example.com", "bob@example.com"]);
    db.close();
  });

  test("never writes over the database or its WAL, and leaves no partial file when it fails", async () => {
    const { dataDir, dbPath, db } = await dataDirWithAlice();
    expect(() => backupTo(db, dbPath, join(dataDir, ".", "crontopus.db"))).toThrow(/over the database itself/);
    expect(() => backupTo(db, dbPath, `${dbPath}-wal`)).toThrow(/over the database itself/);
    expect(() => backupTo(db, dbPath, join(dataDir, "missing", "b.db"))).toThrow(/no directory/);
    expect(readdirSync(dataDir).filter((n) => n.includes("partial"))).toEqual([]);
    db.close();
  });
});

describe("inspectDatabase", () => {
  test("refuses what is not a whole Crontopus database", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "junk.db"), "not a database at all, just text that is long enough to be read as a header...".repeat(20));
    expect(() => inspectDatabase(join(dir, "junk.db"))).toThrow(/is not a Crontopus database/);
    const other = new Database(join(dir, "other.db"));
    other.exec("CREATE TABLE t (x)");
    other.close();
    expect(() => inspectDatabase(join(dir, "other.db"))).toThrow(/no schema_migrations table/);
  });
});

describe("pruneBackups", () => {
  test("keeps the newest scheduled backups, never one taken before a migration or a restore", () => {
    const dataDir = tempDir();
    const dir = join(dataDir, "backups");
    const names = [0, 1, 2, 3].map((d) => backupName(NOW + d * 86_400_000));
    const kept = [backupName(NOW, "-before-0009"), backupName(NOW, "-before-restore"), "my-own-copy.db"];
    mkdirSync(dir);
    for (const n of [...names, ...kept]) writeFileSync(join(dir, n), "");
    expect(pruneBackups(dataDir, 2)).toEqual(names.slice(0, 2));
    expect(readdirSync(dir).sort()).toEqual([...names.slice(2), ...kept].sort());
    expect(names[0]).toBe("crontopus-20261203T021500Z.db");
  });
});

describe("migrateWithBackup", () => {
  test("a new database is migrated with no backup; an up-to-date one is left alone", () => {
    const dataDir = tempDir();
    const dbPath = join(dataDir, "crontopus.db");
    const db = openDb(dbPath);
    expect(migrateWithBackup(db, dbPath, dataDir, NOW)).toMatchObject({ backup: null, applied: MIGRATIONS.map((m) => m.name) });
    expect(migrateWithBackup(db, dbPath, dataDir, NOW)).toEqual({ backup: null, applied: [] });
    expect(existsSync(join(dataDir, "backups"))).toBe(false);
    db.close();
  });

  test("an older schema is backed up as it was, then migrated", async () => {
    const dataDir = tempDir();
    const dbPath = join(dataDir, "crontopus.db");
    const db = openDb(dbPath);
    migrate(db, MIGRATIONS.filter((m) => m.version <= 4), NOW);
    await createUser(db, { email: "alice@example.com", password: "correct horse battery" });
    const { applied, backup } = migrateWithBackup(db, dbPath, dataDir, NOW);
    expect(applied).toEqual(MIGRATIONS.filter((m) => m.version > 4).map((m) => m.name));
    expect(backup!.file).toBe(join(dataDir, "backups", "crontopus-20261203T021500Z-before-0005.db"));
    expect(inspectDatabase(backup!.file).schema_version).toBe(4);
    expect(emails(backup!.file)).toEqual(["alice@example.com"]);
    expect(schemaVersion(db)).toBe(MIGRATIONS.at(-1)!.version);
    db.close();
  });

  test("a database from a newer Crontopus is refused, with nothing written", () => {
    const dataDir = tempDir();
    const dbPath = join(dataDir, "crontopus.db");
    const db = openDb(dbPath);
    migrate(db);
    db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    expect(() => migrateWithBackup(db, dbPath, dataDir, NOW)).toThrow(/^database schema version 999 is newer than this Crontopus \(knows up to \d+\); upgrade Crontopus or restore a backup$/);
    expect(existsSync(join(dataDir, "backups"))).toBe(false);
    db.close();
  });
});

describe("restoreFrom", () => {
  test("puts the backup in place and keeps the database it replaced", async () => {
    const from = await dataDirWithAlice();
    const out = join(tempDir(), "b.db");
    backupTo(from.db, from.dbPath, out);
    const target = await dataDirWithAlice();
    await createUser(target.db, { email: "trudy@example.com", password: "correct horse battery" });
    target.db.close();
    const r = restoreFrom(out, target.dbPath, target.dataDir, join(target.dataDir, "secret.key"), NOW);
    expect(r).toMatchObject({ file: out, checkins: 0, replaced: join(target.dataDir, "backups", "crontopus-20261203T021500Z-before-restore.db"), key_warning: null });
    expect(emails(target.dbPath)).toEqual(["alice@example.com"]);
    expect(emails(r.replaced!)).toEqual(["alice@example.com", "trudy@example.com"]);
    expect(existsSync(`${target.dbPath}-wal`)).toBe(false);
    expect(statSync(target.dbPath).mode & 0o777).toBe(0o600);
    from.db.close();
  });

  test("is refused while the data directory is locked, and changes nothing", async () => {
    const from = await dataDirWithAlice();
    const out = join(tempDir(), "b.db");
    backupTo(from.db, from.dbPath, out);
    const target = tempDir();
    const lock = lockDataDir(target);
    try {
      expect(() => restoreFrom(out, join(target, "crontopus.db"), target, join(target, "secret.key"), NOW)).toThrow(/is in use by another Crontopus server/);
      expect(existsSync(join(target, "crontopus.db"))).toBe(false);
    } finally {
      lock.release();
    }
    from.db.close();
  });

  test("a damaged database it replaces is moved aside as it is", async () => {
    const from = await dataDirWithAlice();
    const out = join(tempDir(), "b.db");
    backupTo(from.db, from.dbPath, out);
    const target = tempDir();
    writeFileSync(join(target, "crontopus.db"), "garbage ".repeat(1000));
    const r = restoreFrom(out, join(target, "crontopus.db"), target, join(target, "secret.key"), NOW);
    expect(r.replaced).toBe(join(target, "backups", "crontopus-20261203T021500Z-before-restore-damaged.db"));
    expect(readFileSync(r.replaced!, "utf8")).toStartWith("garbage ");
    expect(emails(join(target, "crontopus.db"))).toEqual(["alice@example.com"]);
    from.db.close();
  });

  test("warns when the data directory's key file cannot open the backup's channel secrets", async () => {
    const from = await dataDirWithAlice();
    const tenantId = from.db.query<{ id: string }, []>("SELECT id FROM tenants").get()!.id;
    const deps = { secrets: openSecretBox(join(from.dataDir, "secret.key")), allowPrivateTargets: true };
    createChannel(from.db, deps, tenantId, { name: "hook", type: "webhook", config: { url: "https://hooks.example.com/x", secret: "whsec-123" } }, NOW);
    const out = join(tempDir(), "b.db");
    backupTo(from.db, from.dbPath, out);
    const fresh = tempDir();
    expect(restoreFrom(out, join(fresh, "crontopus.db"), fresh, join(fresh, "secret.key"), NOW).key_warning).toMatch(/^no key file at/);
    openSecretBox(join(fresh, "secret.key")).encrypt("make a key");
    expect(restoreFrom(out, join(fresh, "crontopus.db"), fresh, join(fresh, "secret.key"), NOW + 1000).key_warning).toMatch(/does not open the channel secrets/);
    expect(restoreFrom(out, join(fresh, "crontopus.db"), fresh, join(from.dataDir, "secret.key"), NOW + 2000).key_warning).toBeNull();
    from.db.close();
  });
});
