// Upgrades as an operator runs them: the previous release (a0a9145, the code before this round,
// schema 4) makes a database and fills it through its own API; the current code then starts on
// it, backs it up before migrating, migrates it and serves everything it held. And a database
// from a newer Crontopus is refused at start with one line, changing nothing.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDb } from "../src/db";
import { MIGRATIONS } from "../src/migrations";
import { inspectDatabase } from "../src/backups/backups";
import { BUN, MAIN, ROOT, freePort, spawnServer, tempDir } from "./helpers";

/** The last release: the commit before this round's work (see docs/deployment.md#upgrades). */
const PREVIOUS_RELEASE = "a0a9145";
const PREVIOUS_SCHEMA = 4;

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

/** The previous release's code, checked out from git; null in a clone without that history. */
function previousRelease(): string | null {
  const has = Bun.spawnSync(["git", "cat-file", "-e", `${PREVIOUS_RELEASE}^{commit}`], { cwd: ROOT, stdout: "ignore", stderr: "ignore" });
  if (has.exitCode !== 0) return null;
  const to = dir();
  const archive = Bun.spawnSync(["sh", "-c", `git archive ${PREVIOUS_RELEASE} src agent migrations package.json tsconfig.json | tar -x -C '${to}'`], { cwd: ROOT });
  if (archive.exitCode !== 0) throw new Error(archive.stderr.toString());
  // Its dependencies are a subset of today's, at the same versions.
  symlinkSync(join(ROOT, "node_modules"), join(to, "node_modules"));
  return join(to, "src/main.ts");
}

async function run(main: string, args: string[], stdin?: string) {
  const p = Bun.spawn([BUN, main, ...args], { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

async function serve(main: string, dataDir: string, env: Record<string, string> = {}) {
  const server = await spawnServer(dataDir, env, main);
  procs.push(server.proc);
  return server;
}

const rows = (path: string, sql: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.query(sql).all();
  } finally {
    db.close();
  }
};

describe("upgrading", () => {
  const old = previousRelease();

  test.skipIf(old === null)("the current code starts on a database the previous release made: a backup first, then the migrations, and every job and run is still there", async () => {
    const dataDir = dir();
    const dbPath = join(dataDir, "crontopus.db");
    const made = await run(old!, ["admin", "create-user", "--data-dir", dataDir, "--email", "alice@example.com", "--tenant", "acme"], "correct horse battery\n");
    expect(made.stderr).toBe("");
    const token = (await run(old!, ["admin", "create-token", "--data-dir", dataDir, "--email", "alice@example.com", "--tenant", "acme", "--name", "upgrade"])).stdout.trim();
    expect(token).toStartWith("ctp_");

    // The previous release at work: jobs, a channel with a secret, runs with output.
    const before = await serve(old!, dataDir, { CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
    const api = (url: string, path: string, init: RequestInit & { json?: unknown } = {}) =>
      fetch(url + path, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: init.json === undefined ? init.body : JSON.stringify(init.json) });
    for (const name of ["nightly", "hourly"]) expect((await api(before.url, `/api/v1/jobs/ops/${name}`, { method: "PUT", json: { schedule: "@daily", grace: "1h" } })).status).toBeLessThan(300);
    expect((await api(before.url, "/api/v1/channels", { method: "POST", json: { name: "hook", type: "webhook", config: { url: "http://127.0.0.1:9/hook", secret: "whsec-before-upgrade" } } })).status).toBe(201);
    const jobs = (await (await api(before.url, "/api/v1/jobs")).json()) as { jobs: { name: string; ping_url: string }[] };
    const sent: Record<string, string[]> = {};
    for (const j of jobs.jobs) {
      sent[j.name] = [];
      for (let i = 0; i < 25; i++) {
        const body = `${j.name}-run-${i}`;
        expect((await fetch(`${j.ping_url}/${i % 5 === 4 ? 1 : 0}`, { method: "POST", body })).status).toBe(200);
        sent[j.name]!.push(body);
      }
    }
    // That release applied check-ins to its jobs within a second or so, after the answer.
    let jobsBefore: Record<string, unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      jobsBefore = ((await (await api(before.url, "/api/v1/jobs")).json()) as { jobs: Record<string, unknown>[] }).jobs;
      if (jobsBefore.every((j) => j.status === "failed" && j.checkins_total === 25)) break;
      await Bun.sleep(100);
    }
    expect(jobsBefore.map((j) => [j.status, j.checkins_total])).toEqual([["failed", 25], ["failed", 25]]);
    before.proc.kill("SIGTERM");
    expect(await before.proc.exited).toBe(0);
    const held = rows(dbPath, "SELECT (SELECT count(*) FROM checkins) AS checkins, (SELECT count(*) FROM jobs) AS jobs, (SELECT max(version) FROM schema_migrations) AS version")[0];
    expect(held).toEqual({ checkins: 50, jobs: 2, version: PREVIOUS_SCHEMA });

    // The upgrade.
    const after = await serve(MAIN, dataDir, { CRONTOPUS_LOG_LEVEL: "info", CRONTOPUS_LOG_FORMAT: "json" });
    const backups = readdirSync(join(dataDir, "backups"));
    expect(backups).toEqual([expect.stringMatching(/^crontopus-\d{8}T\d{6}Z-before-0005\.db$/)]);
    const backup = join(dataDir, "backups", backups[0]!);
    expect(inspectDatabase(backup)).toEqual({ schema_version: PREVIOUS_SCHEMA, checkins: 50 });
    expect(rows(backup, "SELECT name FROM jobs ORDER BY name")).toEqual([{ name: "hourly" }, { name: "nightly" }]);

    for (const j of jobs.jobs) {
      const runs = (await (await api(after.url, `/api/v1/runs?job=ops/${j.name}&limit=100&output=true`)).json()) as { runs: { output: string; status: string; exit_code: number }[] };
      expect(runs.runs.map((r) => r.output)).toEqual([...sent[j.name]!].reverse());
      expect(runs.runs.filter((r) => r.status === "failed")).toHaveLength(5);
    }
    const jobsAfter = ((await (await api(after.url, "/api/v1/jobs")).json()) as { jobs: Record<string, unknown>[] }).jobs;
    for (const field of ["id", "name", "namespace", "status", "schedule", "checkins_total", "last_ping_at"]) {
      expect(jobsAfter.map((j) => j[field])).toEqual(jobsBefore.map((j) => j[field]));
    }
    // The same ping URLs (on another port here): the jobs' crontab lines keep working.
    const pingPath = (j: Record<string, unknown>) => new URL(j.ping_url as string).pathname;
    expect(jobsAfter.map(pingPath)).toEqual(jobsBefore.map(pingPath));
    // The channel's secret is sealed at rest now (0007), and the channel still works as before.
    const channels = (await (await api(after.url, "/api/v1/channels")).json()) as { channels: { name: string }[] };
    expect(channels.channels.map((c) => c.name)).toEqual(["hook"]);
    expect(JSON.stringify(rows(dbPath, "SELECT config, sealed FROM channels"))).not.toContain("whsec-before-upgrade");
    // Alice still signs in with her password.
    expect((await fetch(`${after.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "alice@example.com", password: "correct horse battery" }) })).status).toBe(200);

    after.proc.kill("SIGTERM");
    expect(await after.proc.exited).toBe(0);
    const log = (await new Response(after.proc.stderr).text()).trim().split("\n").map((l) => JSON.parse(l) as { msg: string; file?: string; applied?: string[] });
    const backedUp = log.findIndex((l) => l.msg === "backup written before migrating");
    const migrated = log.findIndex((l) => l.msg === "migrations applied");
    expect(backedUp).toBeGreaterThanOrEqual(0);
    expect(backedUp).toBeLessThan(migrated);
    expect(log[backedUp]!.file).toBe(backup);
    expect(log[migrated]!.applied).toEqual(MIGRATIONS.filter((m) => m.version > PREVIOUS_SCHEMA).map((m) => m.name));

    // A restart has nothing to migrate: no second backup.
    const again = await serve(MAIN, dataDir);
    again.proc.kill("SIGTERM");
    expect(await again.proc.exited).toBe(0);
    expect(readdirSync(join(dataDir, "backups"))).toEqual(backups);
  }, 120_000);

  test("a database from a newer Crontopus is refused at start with one clear line, exit 1, and nothing changed", async () => {
    const dataDir = dir();
    const dbPath = join(dataDir, "crontopus.db");
    const db = openDb(dbPath);
    migrate(db);
    db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_from_the_future', 0)").run();
    db.close();
    const sha = () => createHash("sha256").update(readFileSync(dbPath)).digest("hex");
    const was = sha();
    const port = await freePort();
    const r = await run(MAIN, ["serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: database schema version 999 is newer than this Crontopus (knows up to ${MIGRATIONS.at(-1)!.version}); upgrade Crontopus or restore a backup\n`);
    expect(r.stdout).toBe("");
    expect(sha()).toBe(was);
    expect(existsSync(join(dataDir, "backups"))).toBe(false);
    expect(rows(dbPath, "SELECT max(version) AS v FROM schema_migrations")).toEqual([{ v: 999 }]);
  });
});
