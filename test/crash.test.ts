// Run history survives SIGKILL. A real server process takes pings from this process while it is
// killed ten times at arbitrary moments; after the last restart, every acknowledged check-in is
// in its job's run history (GET /api/v1/runs?job=, paged to the end) and the job's counters
// match the history. And a database written before this release, with its chains already
// forked by crashes, shows every run after the upgrade.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { migrate, openDb } from "../src/db";
import { MIGRATIONS } from "../src/migrations";
import { createUser } from "../src/auth/identity";
import { createTenant } from "../src/tenants/tenants";
import { createApiToken } from "../src/auth/apitokens";
import { putJob } from "../src/jobs/jobs";
import { listRuns } from "../src/runs/runs";
import { BUN, MAIN, freePort, tempDir } from "./helpers";

const dirs: string[] = [];
const servers: ReturnType<typeof Bun.spawn>[] = [];
afterAll(() => {
  // A failed expectation must not leave a server running.
  for (const p of servers) p.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function untilUp(url: string, proc: { exitCode: number | null }): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    try {
      if ((await fetch(url + "/health")).ok) return;
    } catch {}
    await Bun.sleep(25);
  }
  throw new Error("server did not come up in 15 s");
}

async function pagedRuns(url: string, token: string, job: string): Promise<string[]> {
  const outputs: string[] = [];
  let cursor = "";
  for (let page = 0; page < 1000; page++) {
    const r = await fetch(`${url}/api/v1/runs?job=${job}&limit=500&output=true${cursor ? `&cursor=${cursor}` : ""}`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { runs: { output: string }[]; next_cursor: string | null };
    outputs.push(...body.runs.map((x) => x.output));
    if (!body.next_cursor) return outputs;
    cursor = body.next_cursor;
  }
  throw new Error("pages never ended");
}

describe("run history across crashes", () => {
  test("after 10 SIGKILLs under load, every acknowledged check-in is in its job's history and the counters match", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const db = openDb(join(dataDir, "crontopus.db"));
    migrate(db);
    const user = await createUser(db, { email: "alice@example.com", password: "correct horse battery" });
    const tenant = createTenant(db, { slug: "acme" }, user.id);
    // Keep every run: the default keeps 1,000 per job.
    db.query("UPDATE tenants SET retention_runs = 100000 WHERE id = ?").run(tenant.id);
    const { token } = createApiToken(db, tenant.id, user.id, { name: "crash-test" });
    const jobs = Array.from({ length: 6 }, (_, i) => putJob(db, tenant.id, "load", `j${i}`, { schedule: "@every 1h" }, Date.now()).job);
    db.close();

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { ...process.env, CRONTOPUS_DATA_DIR: dataDir, CRONTOPUS_PORT: String(port), CRONTOPUS_HOST: "127.0.0.1", CRONTOPUS_LOG_LEVEL: "error", CRONTOPUS_PING_RATE_LIMIT: "0" };
    const acked = new Map<string, Set<string>>(jobs.map((j) => [j.id, new Set()]));
    let seq = 0;

    for (let kill = 0; kill <= 10; kill++) {
      const proc = Bun.spawn([BUN, MAIN, "serve"], { env, stdout: "ignore", stderr: "ignore" });
      servers.push(proc);
      await untilUp(url, proc);
      if (kill === 10) {
        // The last start: read everything back, then stop it.
        for (const j of jobs) {
          const history = await pagedRuns(url, token, `load/${j.name}`);
          const seen = new Set(history);
          const missing = [...acked.get(j.id)!].filter((o) => !seen.has(o));
          expect(missing).toEqual([]);
          expect(history.length).toBe(seen.size); // no run twice
          const job = (await (await fetch(`${url}/api/v1/jobs/load/${j.name}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { checkins_total: number };
          expect(job.checkins_total).toBe(history.length);
        }
        proc.kill("SIGKILL");
        await proc.exited;
        break;
      }
      // Load from 24 concurrent senders until a number of acknowledgements, varied per round, then kill mid-flight.
      const target = 150 + ((kill * 97) % 250);
      let round = 0;
      let stop = false;
      const senders = Array.from({ length: 24 }, async (_, w) => {
        while (!stop) {
          const j = jobs[(w + seq) % jobs.length]!;
          const output = `run-${seq++}`;
          try {
            const r = await fetch(`${url}/ping/${j.ping_token}`, { method: "POST", body: output });
            if (r.status === 200) {
              acked.get(j.id)!.add(output);
              if (++round >= target) stop = true;
            }
          } catch {
            return; // the server is gone
          }
        }
      });
      while (round < target) await Bun.sleep(1);
      proc.kill("SIGKILL");
      stop = true;
      await Promise.all(senders);
      await proc.exited;
    }
    const total = [...acked.values()].reduce((n, s) => n + s.size, 0);
    console.log(`crash test: ${total} check-ins acknowledged across 10 SIGKILLs, every one in its job's history`);
    expect(total).toBeGreaterThan(10 * 150);
  }, 120_000);

  test("a database whose histories were forked by crashes before this release shows every run after the upgrade", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const db = openDb(join(dataDir, "crontopus.db"));
    // The schema as the previous release left it.
    migrate(db, MIGRATIONS.filter((m) => m.version <= 4));
    const user = await createUser(db, { email: "bob@example.com", password: "correct horse battery" });
    const tenant = createTenant(db, { slug: "globex" }, user.id);
    const t0 = Date.now() - 60_000;
    const job = putJob(db, tenant.id, "default", "forked", { schedule: "@every 1h" }, t0).job;
    // Ten check-ins as that release chained them, then a crash: the job row named the third as
    // its head, so the next check-in after the restart linked to the third, hiding 4 to 10.
    const insert = db.query(
      "INSERT INTO checkins (id, tenant_id, job_id, kind, status, exit_code, received_at, body, truncated, prev_id) VALUES (?, ?, ?, 'success', 'success', 0, ?, ?, 0, ?)",
    );
    for (let id = 1; id <= 10; id++) insert.run(id, tenant.id, job.id, t0 + id, `run ${id}`, id === 1 ? null : id - 1);
    for (let id = 11; id <= 15; id++) insert.run(id, tenant.id, job.id, t0 + id, `run ${id}`, id === 11 ? 3 : id - 1);
    db.query("UPDATE jobs SET last_checkin_id = 15, checkins_total = 15 WHERE id = ?").run(job.id);
    db.query("UPDATE engine_state SET value = 15 WHERE key = 'checkins_applied'").run();
    const before = listRuns(db, tenant.id, { jobId: job.id, limit: 100, output: true }).runs.length;
    expect(before).toBe(8); // 15..11, 3..1: the fork as it was

    migrate(db);
    const runs = listRuns(db, tenant.id, { jobId: job.id, limit: 100, output: true }).runs.map((r) => r.output);
    expect(runs).toEqual(Array.from({ length: 15 }, (_, i) => `run ${15 - i}`));
    db.close();
  });
});
