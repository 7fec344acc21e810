// Operations figures: (1) `crontopus backup` of a database of BENCH_CHECKINS check-ins (default
// 1,000,000, 100-byte outputs) beside a server taking pings: time, size, pings answered during
// the copy and their worst latency; (2) SIGTERM under that load: time to exit; (3) log lines per
// 1,000 pings at the default level; (4) a scheduled backup written by the server itself under
// the same load.
import { statSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDb } from "../../src/db";
import { createUser } from "../../src/auth/identity";
import { createTenant } from "../../src/tenants/tenants";
import { putJob } from "../../src/jobs/jobs";
import { CheckinWriter } from "../../src/checkins/writer";
import { ROOT, spawnServer, tempDataDir } from "./lib";

const CHECKINS = Number(process.env.BENCH_CHECKINS ?? 1_000_000);
const JOBS = 1_000;
const MAIN = join(ROOT, "src/main.ts");

const data = tempDataDir();
const dbPath = join(data, "crontopus.db");
const db = openDb(dbPath);
migrate(db);
const user = await createUser(db, { email: "bench@example.com", password: "bench-password" });
const tenant = createTenant(db, { slug: "bench" }, user.id);
db.query("UPDATE tenants SET retention_runs = 100000 WHERE id = ?").run(tenant.id);
const jobs = db.transaction(() => Array.from({ length: JOBS }, (_, i) => putJob(db, tenant.id, "default", `job-${i}`, { schedule: "@every 1h", grace: "1h" }, Date.now()).job))();
let t = performance.now();
const writer = new CheckinWriter(db);
const body = "x".repeat(100);
for (let i = 0; i < CHECKINS; i++) {
  const j = jobs[i % JOBS]!;
  void writer.append({ tenant_id: tenant.id, job_id: j.id, last_checkin_id: null, kind: "success", exit_code: 0, rid: null, received_at: Date.now() - 3_600_000, started_at: null, duration_ms: null, body, truncated: false, source: "bench" });
  if (i % 20_000 === 19_999) writer.flush();
}
writer.flush();
// As if the engine had applied them: the server starts at once.
db.query("UPDATE engine_state SET value = (SELECT max(id) FROM checkins) WHERE key = 'checkins_applied'").run();
db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
db.close();
console.log(`built ${CHECKINS.toLocaleString("en")} check-ins in ${((performance.now() - t) / 1000).toFixed(1)} s: ${(statSync(dbPath).size / 1024 / 1024).toFixed(0)} MB`);

const server = await spawnServer(data, { env: { CRONTOPUS_PING_RATE_LIMIT: "0", CRONTOPUS_LOG_LEVEL: "info", CRONTOPUS_LOG_FORMAT: "json" }, stderr: "pipe" });
const answers: { sent: number; at: number; status: number }[] = [];
let stop = false;
const senders = Array.from({ length: 16 }, async (_, w) => {
  for (let n = 0; !stop; n++) {
    const sent = performance.now();
    let status = 0;
    try {
      const r = await fetch(`${server.url}/ping/${jobs[(w * 7919 + n) % JOBS]!.ping_token}`, { method: "POST", body: "bench" });
      await r.text();
      status = r.status;
    } catch {
      await Bun.sleep(10);
    }
    answers.push({ sent, at: performance.now(), status });
  }
});
await Bun.sleep(2000);
const out = join(tempDataDir(), "backup.db");
t = performance.now();
const began = t;
// The WAL cannot start over while the copy's read transaction is open: its peak size, sampled.
let walPeak = 0;
const sampler = setInterval(() => {
  try {
    walPeak = Math.max(walPeak, statSync(`${dbPath}-wal`).size);
  } catch {}
}, 50);
// Spawned, not spawnSync: the senders in this process must keep going meanwhile.
const backup = Bun.spawn([process.execPath, MAIN, "backup", "--data-dir", data, "--out", out, "--json"], { stdout: "pipe", stderr: "pipe" });
const [stdout, stderr, exit] = await Promise.all([new Response(backup.stdout).text(), new Response(backup.stderr).text(), backup.exited]);
const ended = performance.now();
clearInterval(sampler);
if (exit !== 0) throw new Error(stderr);
const r = JSON.parse(stdout) as { bytes: number; ms: number; checkins: number };
const during = answers.filter((a) => a.at >= began && a.at <= ended && a.status === 200);
const before = answers.filter((a) => a.at < began && a.status === 200);
const worst = (xs: typeof answers) => Math.max(...xs.map((a) => a.at - a.sent));
console.log(
  `backup: ${r.checkins.toLocaleString("en")} check-ins, ${(r.bytes / 1024 / 1024).toFixed(0)} MB in ${(r.ms / 1000).toFixed(2)} s (the command: ${((ended - began) / 1000).toFixed(2)} s); ` +
    `${during.length} pings answered meanwhile (${(during.length / ((ended - began) / 1000)).toFixed(0)}/s, before: ${(before.length / 2).toFixed(0)}/s), slowest ${worst(during).toFixed(0)} ms (before: ${worst(before).toFixed(0)} ms); WAL peak ${(walPeak / 1024 / 1024).toFixed(0)} MB`,
);

// SIGTERM under the same load.
await Bun.sleep(1000);
const pingsBefore = answers.length;
const signalled = performance.now();
server.proc.kill("SIGTERM");
const code = await server.proc.exited;
console.log(`SIGTERM under load (16 senders): exit ${code} after ${((performance.now() - signalled) / 1000).toFixed(2)} s`);
stop = true;
await Promise.all(senders);
const log = (await new Response(server.proc.stderr as ReadableStream).text()).trim().split("\n");
const pings = answers.filter((a) => a.status === 200).length;
const requestLines = log.filter((l) => JSON.parse(l).msg === "request").length;
console.log(`log: ${log.length} lines for ${pings.toLocaleString("en")} pings (${((log.length / pings) * 1000).toFixed(2)} per 1,000; ${requestLines} request lines); ${pingsBefore} answers before the signal`);

// A scheduled backup, written by the server itself (its checkpoint worker) under the same load.
{
  const sched = await spawnServer(data, { env: { CRONTOPUS_PING_RATE_LIMIT: "0", CRONTOPUS_LOG_LEVEL: "info", CRONTOPUS_LOG_FORMAT: "json", CRONTOPUS_BACKUP_SCHEDULE: "@every 10s" }, stderr: "pipe" });
  let stopSched = false;
  const got: { sent: number; at: number; status: number }[] = [];
  const load = Array.from({ length: 16 }, async (_, w) => {
    for (let n = 0; !stopSched; n++) {
      const sent = performance.now();
      let status = 0;
      try {
        const res = await fetch(`${sched.url}/ping/${jobs[(w * 7919 + n) % JOBS]!.ping_token}`, { method: "POST", body: "bench" });
        await res.text();
        status = res.status;
      } catch {
        await Bun.sleep(10);
      }
      got.push({ sent, at: performance.now(), status });
    }
  });
  await Bun.sleep(12_000);
  stopSched = true;
  await Promise.all(load);
  sched.proc.kill("SIGTERM");
  await sched.proc.exited;
  const lines = (await new Response(sched.proc.stderr as ReadableStream).text()).trim().split("\n").map((l) => JSON.parse(l));
  const written = lines.find((l) => l.msg === "backup written");
  const ok = got.filter((a) => a.status === 200);
  console.log(
    `scheduled backup inside serve: ${written ? `${(written.bytes / 1024 / 1024).toFixed(0)} MB in ${(written.ms / 1000).toFixed(2)} s` : "none written"}; ` +
      `${(ok.length / 12).toFixed(0)} pings/s over the 12 s around it, slowest ${Math.max(...ok.map((a) => a.at - a.sent)).toFixed(0)} ms, ${got.length - ok.length} not answered 200`,
  );
}

