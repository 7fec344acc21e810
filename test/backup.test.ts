// Backups as an operator takes them: `crontopus backup` beside a server under ping load from
// another process, restored with `crontopus restore` into a fresh data directory, read back
// through the API of a server started on it. And `restore` refused while a server runs.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDb } from "../src/db";
import { createUser } from "../src/auth/identity";
import { createTenant } from "../src/tenants/tenants";
import { createApiToken } from "../src/auth/apitokens";
import { putJob } from "../src/jobs/jobs";
import { inspectDatabase } from "../src/backups/backups";
import { cli, spawnServer, startTestServer, tempDir } from "./helpers";
import { spawnPinger } from "./pingload";

const dirs: string[] = [];
const procs: Bun.Subprocess[] = [];
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

async function serve(dataDir: string) {
  const server = await spawnServer(dataDir, { CRONTOPUS_PING_RATE_LIMIT: "0" });
  procs.push(server.proc);
  return server;
}

/** Every run output of a job, through the API, paged to the end. */
async function outputs(url: string, token: string, job: string): Promise<string[]> {
  const all: string[] = [];
  let cursor = "";
  for (;;) {
    const r = await fetch(`${url}/api/v1/runs?job=${job}&limit=500&output=true${cursor ? `&cursor=${cursor}` : ""}`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    const page = (await r.json()) as { runs: { output: string }[]; next_cursor: string | null };
    all.push(...page.runs.map((x) => x.output));
    if (!page.next_cursor) return all;
    cursor = page.next_cursor;
  }
}

describe("crontopus backup and restore", () => {
  test("a backup taken under ping load restores to a working server holding every check-in acknowledged before the snapshot began", async () => {
    const live = dir();
    const db = openDb(join(live, "crontopus.db"));
    migrate(db);
    const alice = await createUser(db, { email: "alice@example.com", password: "correct horse battery" });
    const acme = createTenant(db, { slug: "acme" }, alice.id);
    db.query("UPDATE tenants SET retention_runs = 100000 WHERE id = ?").run(acme.id);
    const { token } = createApiToken(db, acme.id, alice.id, { name: "backup-test" });
    const jobs = Array.from({ length: 4 }, (_, i) => putJob(db, acme.id, "load", `j${i}`, { schedule: "@every 1h" }, Date.now()).job);
    const filler = putJob(db, acme.id, "load", "filler", { schedule: "@every 1h" }, Date.now()).job;
    db.close();
    const server = await serve(live);

    // A database of some size first (~30 MB of run output), so that the copy takes a while.
    const body = "x".repeat(32 * 1024);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 120; i++) expect((await fetch(`${server.url}/ping/${filler.ping_token}/log`, { method: "POST", body })).status).toBe(200);
      }),
    );

    // Then pings from another process, all through the backup.
    const load = spawnPinger(server.url, 16, jobs.map((j) => j.ping_token));
    procs.push(load.proc);
    while (load.acked().length < 300) await Bun.sleep(10);

    const out = join(dir(), "crontopus-backup.db");
    const began = Date.now();
    const backup = await cli(["backup", "--data-dir", live, "--out", out, "--json"]);
    const ended = Date.now();
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    const written = JSON.parse(backup.stdout) as { file: string; bytes: number; ms: number; checkins: number; schema_version: number };
    expect(written.file).toBe(out);
    expect(written.bytes).toBe(statSync(out).size);
    expect(written.bytes).toBeGreaterThan(25 * 1024 * 1024);
    // Private like the database: it holds password and token hashes.
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(out, ".."))).toEqual(["crontopus-backup.db"]);

    await Bun.sleep(300);
    await load.stop();
    const acked = load.acked();
    const before = acked.filter((a) => a.at < began).map((a) => a.body);
    // The server kept taking check-ins while the backup was written.
    const during = acked.filter((a) => a.at >= began && a.at <= ended).length;
    expect(during).toBeGreaterThan(0);
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);

    const restored = dir();
    const r = await cli(["restore", out, "--data-dir", restored]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`restored ${out} (schema ${written.schema_version}, ${written.checkins} check-ins)`);
    const again = await serve(restored);
    const seen = new Set<string>();
    let total = 0;
    for (const j of jobs) {
      const history = await outputs(again.url, token, `load/${j.name}`);
      for (const o of history) seen.add(o);
      total += history.length;
      const job = (await (await fetch(`${again.url}/api/v1/jobs/load/${j.name}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { checkins_total: number };
      expect(job.checkins_total).toBe(history.length);
    }
    expect(before.filter((b) => !seen.has(b))).toEqual([]);
    expect(seen.size).toBe(total); // no run twice
    expect(before.length).toBeGreaterThanOrEqual(300);
    // Nothing sent after the copy ended: the snapshot is of one moment.
    const after = acked.filter((a) => a.sent > ended);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((a) => seen.has(a.body))).toEqual([]);
    // The restored server works: a new check-in is taken and shows.
    expect((await fetch(`${again.url}/ping/${jobs[0]!.ping_token}`, { method: "POST", body: "after-restore" })).status).toBe(200);
    expect((await outputs(again.url, token, "load/j0"))[0]).toBe("after-restore");
    console.log(`backup: ${written.checkins} check-ins, ${(written.bytes / 1024 / 1024).toFixed(1)} MB in ${written.ms} ms (cli ${ended - began} ms); ${during} pings acknowledged meanwhile`);
    again.proc.kill("SIGTERM");
    await again.proc.exited;
  }, 180_000);

  test("restore is refused while a server runs on the data directory, and changes nothing", async () => {
    const dataDir = join(dir(), "data");
    const server = await serve(dataDir);
    const out = join(dir(), "b.db");
    expect((await cli(["backup", "--data-dir", dataDir, "--out", out])).code).toBe(0);
    // Made after the backup: what a restore would throw away.
    expect((await cli(["admin", "create-user", "--data-dir", dataDir, "--email", "trudy@example.com", "--password", "long-enough-pw"])).code).toBe(0);
    const users = (path: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return db.query<{ email: string }, []>("SELECT email FROM users").all().map((u) => u.email);
      } finally {
        db.close();
      }
    };
    const r = await cli(["restore", out, "--data-dir", dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: the data directory ${dataDir} is in use by another Crontopus server (pid ${server.proc.pid}); stop it first, or choose another --data-dir\n`);
    expect(existsSync(join(dataDir, "backups"))).toBe(false);
    expect(users(join(dataDir, "crontopus.db"))).toEqual(["trudy@example.com"]);
    expect((await fetch(server.url + "/health")).status).toBe(200);
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
    // Stopped, the same restore goes through and keeps the database it replaced.
    const ok = await cli(["restore", out, "--data-dir", dataDir]);
    expect(ok.code).toBe(0);
    const kept = /the database it replaced is kept as (.*\/backups\/crontopus-\d{8}T\d{6}Z-before-restore\.db)\n/.exec(ok.stdout)![1]!;
    expect(users(join(dataDir, "crontopus.db"))).toEqual([]);
    expect(users(kept)).toEqual(["trudy@example.com"]);
  }, 60_000);
});

describe("scheduled backups", () => {
  test("serve writes one into backups/ at each time of CRONTOPUS_BACKUP_SCHEDULE and keeps the newest CRONTOPUS_BACKUP_KEEP", async () => {
    const server = await startTestServer({ CRONTOPUS_BACKUP_SCHEDULE: "@every 1s", CRONTOPUS_BACKUP_KEEP: "2" });
    try {
      const backups = join(server.dataDir, "backups");
      const scheduled = () => (existsSync(backups) ? readdirSync(backups).filter((n) => /^crontopus-\d{8}T\d{6}Z\.db$/.test(n)).sort() : []);
      const seen = new Set<string>();
      const until = Date.now() + 20_000;
      while (seen.size < 4 && Date.now() < until) {
        for (const n of scheduled()) seen.add(n);
        await Bun.sleep(100);
      }
      expect(seen.size).toBeGreaterThanOrEqual(4);
      await Bun.sleep(300);
      const kept = scheduled();
      expect(kept.length).toBeLessThanOrEqual(2);
      expect(kept.length).toBeGreaterThanOrEqual(1);
      // The newest ones are kept, each a whole database.
      expect(kept.at(-1)! >= [...seen].sort().at(-2)!).toBe(true);
      for (const n of kept) expect(inspectDatabase(join(backups, n)).schema_version).toBeGreaterThan(0);
      expect(readdirSync(backups).filter((n) => n.includes(".partial-"))).toEqual([]);
    } finally {
      await server.close();
    }
  }, 60_000);
});
