// The storage status /health reports: degraded from a failed commit until a commit succeeds,
// and a server that no write reaches tries one of its own once things have been quiet.
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate, openDb, storageFault } from "./db";
import { StorageUnavailable } from "./errors";
import { PROBE_AFTER_MS, StorageStatus } from "./storage";

const dir = mkdtempSync(join(tmpdir(), "crontopus-storage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, "crontopus.db");
const db = openDb(path);
migrate(db);
const full = new StorageUnavailable("the disk is full");
const T = 1_800_000_000_000;

test("a failed commit makes it degraded, with the reason and the time of the first failure", () => {
  const s = new StorageStatus(db);
  expect(s.check(T)).toBeNull();
  s.failed(full, T);
  s.failed(full, T + 500);
  expect(s.check(T + 600)).toEqual({ reason: "the disk is full", since: T, last: T + 500 });
  s.succeeded(T + 700);
  expect(s.check(T + 800)).toBeNull();
});

test("while writes keep failing it does not probe; once quiet it probes, and a successful probe ends it", () => {
  const s = new StorageStatus(db);
  s.failed(full, T);
  // The database takes writes again, but nothing has been quiet for long enough to try.
  expect(s.check(T + PROBE_AFTER_MS - 1)).not.toBeNull();
  expect(s.check(T + PROBE_AFTER_MS)).toBeNull();
});

test("a probe that fails counts as the latest failure, so the next probe waits again", () => {
  const readOnly = new Database(path, { readonly: true });
  const s = new StorageStatus(readOnly);
  s.failed(full, T);
  expect(s.check(T + PROBE_AFTER_MS)).toMatchObject({ since: T, last: T + PROBE_AFTER_MS });
  expect(s.check(T + PROBE_AFTER_MS + 1)).toMatchObject({ last: T + PROBE_AFTER_MS });
  readOnly.close();
});

test("SQLite's storage faults are the 503 domain error; other errors are not", () => {
  const readOnly = new Database(path, { readonly: true });
  let caught: unknown;
  try {
    readOnly.exec("DELETE FROM engine_state WHERE key = 'none'");
  } catch (e) {
    caught = e;
  }
  readOnly.close();
  expect(storageFault(caught)).toMatchObject({ code: "storage_unavailable", reason: "the database is read-only" });
  expect(storageFault(Object.assign(new Error("x"), { code: "SQLITE_FULL" }))?.reason).toBe("the disk is full");
  expect(storageFault(Object.assign(new Error("x"), { code: "SQLITE_IOERR_WRITE" }))?.reason).toBe("an I/O error on the database");
  expect(storageFault(Object.assign(new Error("x"), { code: "SQLITE_CONSTRAINT_UNIQUE" }))).toBeNull();
  expect(storageFault(new Error("boom"))).toBeNull();
});
