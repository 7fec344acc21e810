// Storage faults and the process lifecycle, through real processes on real file systems:
// a small tmpfs that fills up, an ext4 image that goes read-only, SIGTERM and SIGKILL.
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { BUN, MAIN, PASSWORD, cli, freePort, tempDir } from "./helpers";
import { until } from "./receiver";

// ---- file systems -------------------------------------------------------------------------

const mounted: string[] = [];
const loopImages: string[] = [];
const procs: Bun.Subprocess[] = [];

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  for (const dir of [...mounted]) unmount(dir);
  for (const img of loopImages) rmSync(dirname(img), { recursive: true, force: true });
  rmSync(logs, { recursive: true, force: true });
});

function sh(cmd: string[]): { ok: boolean; out: string } {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { ok: r.exitCode === 0, out: (r.stdout.toString() + r.stderr.toString()).trim() };
}

/** A fresh tmpfs of `size` (e.g. "8m"), unmounted after the file. */
function mountTmpfs(size: string): string {
  const dir = tempDir("crontopus-tmpfs-");
  const r = sh(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  if (!r.ok) throw new Error(`cannot mount a tmpfs: ${r.out}`);
  mounted.push(dir);
  return dir;
}

function unmount(dir: string): void {
  // A process killed a moment ago may still hold a file open: fall back to a lazy unmount.
  if (!sh(["umount", dir]).ok) sh(["umount", "-l", dir]);
  mounted.splice(mounted.indexOf(dir), 1);
  rmSync(dir, { recursive: true, force: true });
}


const CAN_MOUNT = (() => {
  try {
    unmount(mountTmpfs("1m"));
    return true;
  } catch (e) {
    console.warn(`SKIPPING storage fault tests: ${(e as Error).message} (they need root to mount a tmpfs)`);
    return false;
  }
})();

/** Fills the file system of `dir` to the last byte with one file, `fill`. */
function fillDisk(dir: string): void {
  const fd = openSync(join(dir, "fill"), "a");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOSPC") throw e;
  } finally {
    closeSync(fd);
  }
}

function freeDisk(dir: string): void {
  rmSync(join(dir, "fill"), { force: true });
}

// ---- the server as a process ----------------------------------------------------------------

const logs = tempDir("crontopus-storage-logs-");

interface Serve {
  proc: Bun.Subprocess;
  url: string;
  log(): string;
}

function spawnServe(dataDir: string, port: number, logName: string): Bun.Subprocess {
  const p = Bun.spawn([BUN, MAIN, "serve", "--data-dir", dataDir, "--port", String(port), "--host", "127.0.0.1"], {
    env: { ...process.env, CRONTOPUS_LOG_LEVEL: "info", CRONTOPUS_BASE_URL: `http://127.0.0.1:${port}`, NO_COLOR: "1" },
    stdout: Bun.file(join(logs, `${logName}.out`)),
    stderr: Bun.file(join(logs, `${logName}.err`)),
  });
  procs.push(p);
  return p;
}

/** Starts `crontopus serve` on a data directory and waits until it answers HTTP. */
async function serve(dataDir: string): Promise<Serve> {
  const port = await freePort();
  const name = `serve-${port}`;
  const proc = spawnServe(dataDir, port, name);
  const url = `http://127.0.0.1:${port}`;
  await until(
    async () => {
      if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}: ${readFileSync(join(logs, `${name}.err`), "utf8")}`);
      return fetch(url + "/health").then(
        () => true,
        () => false,
      );
    },
    20_000,
    50,
  );
  return { proc, url, log: () => readFileSync(join(logs, `${name}.err`), "utf8") };
}

/**
 * Another process holding a read transaction open on the database: the WAL cannot start over
 * while it does, so on a full disk every write, however small, needs room there is not.
 */
async function pinSnapshot(dataDir: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const { Database } = require("bun:sqlite");
    const db = new Database(${JSON.stringify(join(dataDir, "crontopus.db"))});
    db.exec("PRAGMA busy_timeout = 5000");
    // The WAL file cut to nothing, then a frame of our own in it, then the snapshot: the WAL
    // can no longer start over, and every later frame needs new space. (A snapshot on an empty
    // WAL would not stop a restart, and a WAL file left longer by an earlier restart has room
    // for small writes even on a full disk: both let a write through.)
    for (let i = 0; i < 100 && db.query("PRAGMA wal_checkpoint(TRUNCATE)").get().busy; i++) Bun.sleepSync(20);
    db.exec("CREATE TABLE IF NOT EXISTS test_pin (x)");
    db.exec("INSERT INTO test_pin VALUES (1)");
    db.exec("BEGIN");
    db.query("SELECT count(*) FROM checkins").get();
    console.log("pinned");
    setInterval(() => {}, 1000);`;
  const p = Bun.spawn([BUN, "-e", script], { stdout: "pipe", stderr: "inherit" });
  procs.push(p);
  const reader = p.stdout.getReader();
  const first = await reader.read();
  expect(new TextDecoder().decode(first.value)).toContain("pinned");
  return {
    async release() {
      p.kill("SIGKILL");
      await p.exited;
    },
  };
}

/** Another process holding the database's write lock (as a long `admin` command or a restore might). */
async function holdWriteLock(dataDir: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const { Database } = require("bun:sqlite");
    const db = new Database(${JSON.stringify(join(dataDir, "crontopus.db"))});
    db.exec("BEGIN IMMEDIATE");
    console.log("locked");
    setInterval(() => {}, 1000);`;
  const p = Bun.spawn([BUN, "-e", script], { stdout: "pipe", stderr: "inherit" });
  procs.push(p);
  const first = await p.stdout.getReader().read();
  expect(new TextDecoder().decode(first.value)).toContain("locked");
  return {
    async release() {
      p.kill("SIGKILL");
      await p.exited;
    },
  };
}

/** SIGTERM, then how long the process took to end and its exit code. */
async function terminate(proc: Bun.Subprocess): Promise<{ ms: number; code: number | null }> {
  const t0 = performance.now();
  proc.kill("SIGTERM");
  const code = await Promise.race([proc.exited, Bun.sleep(30_000).then(() => null)]);
  const ms = performance.now() - t0;
  if (code === null) proc.kill("SIGKILL");
  return { ms, code };
}

// ---- the personas ---------------------------------------------------------------------------

/** Alice, owner of acme, made with the admin CLI; returns her API token. */
async function alice(dataDir: string): Promise<string> {
  const u = await cli(["admin", "create-user", "--data-dir", dataDir, "--email", "alice@example.com", "--tenant", "acme"], {}, `${PASSWORD}\n`);
  expect(u.stderr).toBe("");
  const t = await cli(["admin", "create-token", "--data-dir", dataDir, "--email", "alice@example.com", "--tenant", "acme", "--name", "laptop"]);
  expect(t.code).toBe(0);
  return t.stdout.trim();
}

function api(s: Serve, token: string, path: string, init: { method?: string; json?: unknown } = {}) {
  return fetch(s.url + path, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${token}`, ...(init.json !== undefined ? { "content-type": "application/json" } : {}) },
    body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
  });
}

async function createJob(s: Serve, token: string, name: string): Promise<Response> {
  return api(s, token, `/api/v1/jobs/default/${name}`, { method: "PUT", json: { schedule: "@daily" } });
}

async function pingToken(s: Serve, token: string, name: string): Promise<string> {
  const r = await createJob(s, token, name);
  expect(r.status).toBeLessThan(300);
  return ((await r.json()) as { ping_url: string }).ping_url.split("/").pop()!;
}

/** Every run of a job, all pages. */
async function runsOf(s: Serve, token: string, job: string): Promise<unknown[]> {
  const all: unknown[] = [];
  let cursor: string | null = null;
  do {
    const r = await api(s, token, `/api/v1/runs?job=${encodeURIComponent(job)}&limit=500${cursor ? `&cursor=${cursor}` : ""}`);
    expect(r.status).toBe(200);
    const page = (await r.json()) as { runs: unknown[]; next_cursor: string | null };
    all.push(...page.runs);
    cursor = page.next_cursor;
  } while (cursor);
  return all;
}

/** A ping body near the 100 KiB limit: on a full disk it cannot fit anywhere. */
const BIG = Buffer.from(crypto.getRandomValues(new Uint8Array(72 * 1024))).toString("base64");

async function health(s: Serve): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const r = await fetch(s.url + "/health");
  return { status: r.status, body: (await r.json()) as { status: string; reason?: string } };
}

// ---- disk full ------------------------------------------------------------------------------

describe("a full disk", () => {
  test.skipIf(!CAN_MOUNT)(
    "writes answer 503 with Retry-After, nothing unstored is acknowledged, /health is degraded, and space coming back heals it",
    async () => {
      const dir = mountTmpfs("8m");
      const token = await alice(dir);
      const s = await serve(dir);
      const ping = await pingToken(s, token, "backup");
      expect((await fetch(`${s.url}/ping/${ping}`)).status).toBe(200);
      let acknowledged = 1;
      expect(await health(s)).toEqual({ status: 200, body: expect.objectContaining({ status: "ok" }) });

      const pin = await pinSnapshot(dir);
      fillDisk(dir);

      // Pings: none fits now; each is refused, and none is answered 200.
      const refused: Response[] = [];
      for (let i = 0; i < 3; i++) refused.push(await fetch(`${s.url}/ping/${ping}`, { method: "POST", body: BIG }));
      for (const r of refused) {
        expect(r.status).toBe(503);
        expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(await r.text()).toBe("not stored: the disk is full");
      }

      // From the first failed commit, /health says so.
      const degraded = await health(s);
      expect(degraded.status).toBe(503);
      expect(degraded.body).toMatchObject({ status: "degraded", reason: "the disk is full" });

      // POST /api/v1/checkins with the same output: the same answer, in the API's error shape.
      const checkin = await api(s, token, "/api/v1/checkins", { method: "POST", json: { job: "backup", kind: "success", output: BIG } });
      expect(checkin.status).toBe(503);
      expect(checkin.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await checkin.json()).toEqual({ error: { code: "storage_unavailable", message: "not stored: the disk is full; try again later" } });

      // An ordinary API write: creating a job.
      const created = await createJob(s, token, "reports");
      expect(created.status).toBe(503);
      expect(created.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(((await created.json()) as { error: { code: string } }).error.code).toBe("storage_unavailable");
      expect((await api(s, token, "/api/v1/jobs/default/reports")).status).toBe(404);
      expect((await health(s)).status).toBe(503);

      // Space comes back: the very next writes succeed, and /health is ok again, no restart.
      freeDisk(dir);
      const after = await fetch(`${s.url}/ping/${ping}`, { method: "POST", body: BIG });
      expect(after.status).toBe(200);
      acknowledged++;
      expect(await health(s)).toEqual({ status: 200, body: expect.objectContaining({ status: "ok" }) });
      const retried = await api(s, token, "/api/v1/checkins", { method: "POST", json: { job: "backup", kind: "success", output: BIG } });
      expect(retried.status).toBe(200);
      acknowledged++;
      expect((await createJob(s, token, "reports")).status).toBeLessThan(300);

      // Exactly the acknowledged check-ins are in the job's history: none lost, none extra.
      await until(async () => (await runsOf(s, token, "backup")).length >= acknowledged, 15_000);
      expect(await runsOf(s, token, "backup")).toHaveLength(acknowledged);
      expect(s.log()).toContain("storage recovered");

      await pin.release();
      expect((await terminate(s.proc)).code).toBe(0);
      unmount(dir);
    },
    120_000,
  );

  test.skipIf(!CAN_MOUNT)(
    "SIGTERM ends the server within 10 s while its disk is full, and every acknowledged check-in is there after a restart",
    async () => {
      const dir = mountTmpfs("8m");
      const token = await alice(dir);
      let s = await serve(dir);
      const ping = await pingToken(s, token, "backup");
      // Check-ins committed to the WAL that no checkpoint may copy into the database yet.
      const pin = await pinSnapshot(dir);
      const acknowledged = 20;
      for (let i = 0; i < acknowledged; i++) expect((await fetch(`${s.url}/ping/${ping}`, { method: "POST", body: BIG })).status).toBe(200);
      fillDisk(dir);
      expect((await fetch(`${s.url}/ping/${ping}`, { method: "POST", body: BIG })).status).toBe(503);
      // Now copying them in needs a larger database file than the disk has room for: the final
      // checkpoint fails with SQLITE_FULL.
      await pin.release();

      const stopped = await terminate(s.proc);
      expect(stopped.ms).toBeLessThan(10_000);
      expect(stopped.code).toBe(0);
      expect(s.log()).toContain("stop: final checkpoint failed");

      freeDisk(dir);
      s = await serve(dir);
      await until(async () => (await runsOf(s, token, "backup")).length >= acknowledged, 15_000);
      expect(await runsOf(s, token, "backup")).toHaveLength(acknowledged);
      expect((await terminate(s.proc)).code).toBe(0);
      unmount(dir);
    },
    120_000,
  );
});

describe("a database another process keeps locked", () => {
  test("SIGTERM still ends the server within 10 s, and what it acknowledged is kept", async () => {
    const dir = tempDir();
    const token = await alice(dir);
    let s = await serve(dir);
    const ping = await pingToken(s, token, "backup");
    for (let i = 0; i < 5; i++) expect((await fetch(`${s.url}/ping/${ping}`)).status).toBe(200);
    const lock = await holdWriteLock(dir);
    const stopped = await terminate(s.proc);
    await lock.release();
    expect(stopped.ms).toBeLessThan(10_000);
    s = await serve(dir);
    expect(await runsOf(s, token, "backup")).toHaveLength(5);
    expect((await terminate(s.proc)).code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});

// ---- read-only ------------------------------------------------------------------------------

/** An ext4 image on a loop device, mounted so that a file system error turns it read-only. */
function mountExt4(): { dir: string; goReadOnly(): void } | null {
  const img = join(tempDir("crontopus-ext4-"), "fs.img");
  loopImages.push(img);
  if (!sh(["truncate", "-s", "32M", img]).ok || !sh(["mkfs.ext4", "-q", "-F", img]).ok) return null;
  const dir = tempDir("crontopus-ext4-mnt-");
  if (!sh(["mount", "-o", "loop,errors=remount-ro", img, dir]).ok) return null;
  mounted.push(dir);
  const dev = sh(["findmnt", "-n", "-o", "SOURCE", dir]).out.split("/").pop()!;
  const trigger = `/sys/fs/ext4/${dev}/trigger_fs_error`;
  return {
    dir,
    goReadOnly() {
      // What the kernel does on a real disk error: the file system stays mounted, read-only.
      Bun.write(trigger, "crontopus test\n");
      expect(readFileSync("/proc/mounts", "utf8")).toMatch(new RegExp(`${dir} ext4 \\S*emergency_ro`));
    },
  };
}

const EXT4 = CAN_MOUNT && sh(["which", "mkfs.ext4"]).ok;
if (CAN_MOUNT && !EXT4) console.warn("SKIPPING the read-only file system test: mkfs.ext4 is not installed");

describe("a read-only file system", () => {
  test.skipIf(!EXT4)(
    "writes answer 503, /health is degraded, and SIGTERM still ends the server within 10 s",
    async () => {
      const fs = mountExt4();
      if (!fs) {
        console.warn("SKIPPING: cannot mount an ext4 image on a loop device here");
        return;
      }
      const dir = join(fs.dir, "data");
      const token = await alice(dir);
      const s = await serve(dir);
      const ping = await pingToken(s, token, "backup");
      expect((await fetch(`${s.url}/ping/${ping}`)).status).toBe(200);

      fs.goReadOnly();
      const r = await fetch(`${s.url}/ping/${ping}`, { method: "POST", body: "after the error" });
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
      expect((await health(s)).body).toMatchObject({ status: "degraded" });

      const stopped = await terminate(s.proc);
      expect(stopped.ms).toBeLessThan(10_000);
      expect(stopped.code).toBe(0);
      expect(s.log()).toContain("stop: final checkpoint failed");

      // Nor does a new server start on it: one line, exit 1.
      const again = await cli(["serve", "--data-dir", dir, "--port", String(await freePort()), "--host", "127.0.0.1"]);
      expect(again.code).toBe(1);
      expect(again.stderr).toBe(`error: cannot write to the data directory ${dir}: the file system is read-only\n`);
      unmount(fs.dir);
    },
    120_000,
  );
});

describe("start-up", () => {
  test.skipIf(!CAN_MOUNT)("a data directory on a read-only file system stops start-up with one clear line", async () => {
    const dir = mountTmpfs("4m");
    expect((await cli(["migrate", "--data-dir", dir])).code).toBe(0);
    expect(sh(["mount", "-o", "remount,ro", dir]).ok).toBe(true);
    const r = await cli(["serve", "--data-dir", dir, "--port", String(await freePort()), "--host", "127.0.0.1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: cannot write to the data directory ${dir}: the file system is read-only\n`);
    unmount(dir);
  });

  test.skipIf(!EXT4)("a database file that cannot be written stops start-up with one clear line", async () => {
    const fs = mountExt4();
    if (!fs) return console.warn("SKIPPING: cannot mount an ext4 image on a loop device here");
    const dir = join(fs.dir, "data");
    expect((await cli(["migrate", "--data-dir", dir])).code).toBe(0);
    // Immutable: not even root may write it (the directory stays writable).
    expect(sh(["chattr", "+i", join(dir, "crontopus.db")]).ok).toBe(true);
    try {
      const r = await cli(["serve", "--data-dir", dir, "--port", String(await freePort()), "--host", "127.0.0.1"]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toStartWith(`error: cannot write the database ${join(dir, "crontopus.db")}: `);
    } finally {
      sh(["chattr", "-i", join(dir, "crontopus.db")]);
      unmount(fs.dir);
    }
  });

  test("a data directory that is a file stops start-up with one clear line", async () => {
    const base = tempDir();
    const file = join(base, "not-a-dir");
    await Bun.write(file, "");
    const r = await cli(["serve", "--data-dir", join(file, "data"), "--port", String(await freePort()), "--host", "127.0.0.1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: cannot write to the data directory ${join(file, "data")}: a part of the path is not a directory\n`);
    rmSync(base, { recursive: true, force: true });
  });
});

// ---- one server per data directory -------------------------------------------------------------

describe("one server per data directory", () => {
  test("a second serve on the same directory exits 1 with a clear message; after a SIGKILL the next one starts", async () => {
    const dir = tempDir();
    const first = await serve(dir);
    const second = await cli(["serve", "--data-dir", dir, "--port", String(await freePort()), "--host", "127.0.0.1"]);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(
      `error: the data directory ${dir} is in use by another Crontopus server (pid ${first.proc.pid}); stop it first, or choose another --data-dir\n`,
    );
    // The first one never noticed.
    expect((await health(first)).status).toBe(200);
    expect(statSync(join(dir, "crontopus.lock")).mode & 0o777).toBe(0o600);

    // A crash leaves the lock file behind, but not the lock: the OS let go of it with the process.
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    const next = await serve(dir);
    expect((await health(next)).status).toBe(200);
    expect((await terminate(next.proc)).code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test("admin, config and migrate work beside a live server, which sees the users and tokens they make at once", async () => {
    const dir = tempDir();
    const s = await serve(dir);
    const token = await alice(dir); // create-user and create-token, each its own process
    const who = await fetch(`${s.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(who.status).toBe(200);
    expect(JSON.stringify(await who.json())).toContain("alice@example.com");
    expect((await createJob(s, token, "backup")).status).toBe(201);

    const config = await cli(["config", "--data-dir", dir, "--json"]);
    expect(config.code).toBe(0);
    expect(JSON.parse(config.stdout)).toMatchObject({ CRONTOPUS_DATA_DIR: dir });
    const migrate = await cli(["migrate", "--data-dir", dir]);
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toContain("up to date");
    expect((await terminate(s.proc)).code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});

