// Stopping as Docker and systemd stop a server: SIGTERM under load. It stops accepting, answers
// the requests in flight (a ping whose body is still arriving included), stops the engine and
// the outbox (a receiver that never answers does not hold it), checkpoints the WAL and exits 0
// within 10 s; everything acknowledged is in the database.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDb } from "../src/db";
import { createUser } from "../src/auth/identity";
import { createTenant } from "../src/tenants/tenants";
import { putJob } from "../src/jobs/jobs";
import { createChannel } from "../src/alerts/channels";
import { openSecretBox } from "../src/secrets";
import { spawnServer, tempDir } from "./helpers";
import { spawnPinger } from "./pingload";

const dirs: string[] = [];
const procs: Bun.Subprocess[] = [];
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A POST whose body arrives in pieces over `ms`: in flight for that long. */
function slowPing(url: string, body: string, ms: number): Promise<number> {
  const pieces = body.match(/.{1,8}/g)!;
  const stream = new ReadableStream<Uint8Array>({
    async pull(c) {
      const next = pieces.shift();
      if (next === undefined) return c.close();
      await Bun.sleep(ms / 8);
      c.enqueue(new TextEncoder().encode(next));
    },
  });
  return fetch(url, { method: "POST", body: stream }).then(
    async (r) => (await r.text(), r.status),
    () => 0,
  );
}

describe("SIGTERM", () => {
  test("under load: requests in flight are answered, the engine and the outbox stop, the WAL is checkpointed, exit 0 within 10 s", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const dbPath = join(dataDir, "crontopus.db");
    const db = openDb(dbPath);
    migrate(db);
    const alice = await createUser(db, { email: "alice@example.com", password: "correct horse battery" });
    const acme = createTenant(db, { slug: "acme" }, alice.id);
    db.query("UPDATE tenants SET retention_runs = 100000 WHERE id = ?").run(acme.id);
    const jobs = Array.from({ length: 6 }, (_, i) => putJob(db, acme.id, "load", `j${i}`, { schedule: "@every 1h" }, Date.now()).job);
    const flaky = putJob(db, acme.id, "load", "flaky", { schedule: "@every 1h" }, Date.now()).job;
    // A receiver that takes every alert and never answers.
    const hung = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => {}) });
    createChannel(db, { secrets: openSecretBox(join(dataDir, "secret.key")), allowPrivateTargets: true }, acme.id, { name: "hung", type: "webhook", config: { url: `http://127.0.0.1:${hung.port}/hook` } }, Date.now());
    db.close();

    const server = await spawnServer(dataDir, { CRONTOPUS_PING_RATE_LIMIT: "0", CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true", CRONTOPUS_LOG_LEVEL: "info", CRONTOPUS_LOG_FORMAT: "json" });
    procs.push(server.proc);
    // An alert on its way to the receiver that never answers.
    expect((await fetch(`${server.url}/ping/${flaky.ping_token}/fail`)).status).toBe(200);
    const load = spawnPinger(server.url, 24, jobs.map((j) => j.ping_token));
    procs.push(load.proc);
    while (load.acked().length < 2000) await Bun.sleep(10);

    // Pings still arriving when the signal comes: sent over 1.2 s, signalled after 0.4 s.
    const slow = Array.from({ length: 4 }, (_, i) => slowPing(`${server.url}/ping/${jobs[i]!.ping_token}`, `slow-${i}-${"z".repeat(56)}`, 1200));
    await Bun.sleep(400);
    const signalled = Date.now();
    server.proc.kill("SIGTERM");
    // While it stops (the slow pings and the stuck alert hold it up), a new connection is refused.
    await Bun.sleep(150);
    const stillStopping = server.proc.exitCode === null;
    const fresh = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } }).then(
      (s) => (s.end(), "accepted"),
      (e: { code?: string }) => e.code ?? "refused",
    );
    const code = await server.proc.exited;
    const took = Date.now() - signalled;
    await load.stop();
    hung.stop(true);

    expect(code).toBe(0);
    expect(took).toBeLessThan(10_000);
    expect(await Promise.all(slow)).toEqual([200, 200, 200, 200]);
    expect(stillStopping).toBe(true);
    expect(fresh).toBe("ECONNREFUSED");
    // Every ping sent before the signal was answered 200 (a quarter of a second allows for a
    // request the sender had not written yet on a busy machine).
    const before = load.answers.filter((a) => a.sent < signalled - 250);
    expect(before.filter((a) => a.status !== 200)).toEqual([]);
    // The WAL was checkpointed into the database and removed.
    expect(existsSync(`${dbPath}-wal`) ? statSync(`${dbPath}-wal`).size : 0).toBe(0);

    // Everything acknowledged is in the log, and the engine wrote every job's state back.
    const check = new Database(dbPath, { readonly: true });
    const stored = new Set(check.query<{ body: string }, []>("SELECT body FROM checkins WHERE body IS NOT NULL").all().map((r) => r.body));
    expect(load.acked().filter((a) => !stored.has(a.body))).toEqual([]);
    for (let i = 0; i < 4; i++) expect(stored.has(`slow-${i}-${"z".repeat(56)}`)).toBe(true);
    const counts = check
      .query<{ total: number; logged: number }, []>("SELECT j.checkins_total AS total, (SELECT count(*) FROM checkins c WHERE c.job_id = j.id) AS logged FROM jobs j WHERE j.name LIKE 'j%'")
      .all();
    for (const c of counts) expect(c.total).toBe(c.logged);
    const applied = check.query<{ value: number }, []>("SELECT value FROM engine_state WHERE key = 'checkins_applied'").get()!.value;
    expect(applied).toBe(check.query<{ n: number }, []>("SELECT max(id) AS n FROM checkins").get()!.n);
    // The alert is not lost: still due, for the next start to send.
    expect(check.query("SELECT status FROM notifications").all()).toEqual([{ status: "pending" }]);
    check.close();

    const log = (await new Response(server.proc.stderr).text()).trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);
    const stopped = log.find((l) => l.msg === "stopped");
    expect(stopped).toMatchObject({ signal: "SIGTERM" });
    expect(log.filter((l) => l.level === "error")).toEqual([]);
    console.log(`SIGTERM under load: exit ${code} after ${took} ms (stop ${stopped?.ms} ms); ${load.acked().length} pings acknowledged`);
  }, 120_000);
});
