import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDb, schemaVersion } from "./db";
import { MIGRATIONS } from "./migrations";
import { tempDir } from "../test/helpers";

describe("migrations", () => {
  test("every file in migrations/ is registered, in order", () => {
    const files = readdirSync(join(import.meta.dir, "../migrations")).filter((f) => f.endsWith(".sql")).sort();
    expect(MIGRATIONS.map((m) => `${m.name}.sql`)).toEqual(files);
    MIGRATIONS.forEach((m, i) => expect(m.version).toBe(i + 1));
  });

  test("applies pending migrations once, into a real file in WAL mode", () => {
    const path = join(tempDir(), "sub", "crontopus.db");
    const db = openDb(path);
    expect(migrate(db)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(migrate(db)).toEqual([]);
    expect(db.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()!.journal_mode).toBe("wal");
    expect(db.query<{ foreign_keys: number }, []>("PRAGMA foreign_keys").get()!.foreign_keys).toBe(1);
    db.close();
  });

  test("refuses a database newer than the code", () => {
    const db = openDb(":memory:");
    migrate(db);
    db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future', 0)").run();
    expect(() => migrate(db)).toThrow(/newer than this Crontopus/);
  });

  test("a failing migration leaves nothing half-applied", () => {
    const db = openDb(":memory:");
    const broken = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: "bad", sql: "CREATE TABLE half (x); SELECT * FROM nowhere;" }];
    expect(() => migrate(db, broken)).toThrow();
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeNull();
  });
});
