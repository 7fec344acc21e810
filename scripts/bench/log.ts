// The log at scale: 20 million check-ins (10,000 jobs, 100 tenants; BENCH_LOG_ROWS for a quick
// run). Targets: check-in throughput at least 0.9x that of an empty log; the first page of
// /runs?job= and of a tenant's /runs p95 < 20 ms, a page 100 cursors deep < 50 ms; a retention
// pass deleting 5 million rows (a quarter of the log) keeps ping p99 < 10 ms at half the peak
// rate while it runs. Also reports the database size per million check-ins.
//
// The log is not sent through HTTP (that would take hours): it is written here with bun:sqlite,
// in big transactions, into a database made by the real migrations and seeded through the real
// service functions (user, tenants, tokens, jobs). Rows are shaped as the writer writes them
// (ids in arrival order, each job's prev_id chain) and as the engine leaves them (starts closed
// by their finish). Each job's newest check-in is left for the engine: the cursor stops before
// the last 10,000 rows (one per job), so the real engine applies them when the server starts
// and the jobs' monitoring state is its own. The database is cached under /tmp, keyed by the
// generator's version, the migrations and the size; every run works on a copy of it.
//
// Server pinned to CPU 0, wrk and the timing client on CPU 1, as in checkins.ts.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate, openDb, type Db } from "../../src/db";
import { MIGRATIONS } from "../../src/migrations";
import { createUser } from "../../src/auth/identity";
import { createTenant, updateTenantSettings } from "../../src/tenants/tenants";
import { createApiToken } from "../../src/auth/apitokens";
import { putJob } from "../../src/jobs/jobs";
import { median, nearest, ms, percentile, spawnServer, tempDataDir, verdict, wrk as runWrk, type WrkResult } from "./lib";

/** Bump when the generated rows change shape: cached databases of other versions are not used. */
const GEN_VERSION = 1;
const ROWS = Number(process.env.BENCH_LOG_ROWS ?? 20_000_000);
const TENANTS = 100;
const JOBS = 10_000;
/** 1% of the jobs (one per tenant) send 40% of the check-ins: a minutely job beside daily ones. */
const CHATTY_SHARE = 0.4;
/** The log covers 40 days; retention of the oldest 10 days is a quarter of it (5M of 20M). */
const SPAN_MS = 40 * 86_400_000;
const CACHE = process.env.BENCH_LOG_CACHE ?? join(tmpdir(), "crontopus-bench-log");

export interface LogMeta {
  generated_at: number;
  rows: number;
  tenants: { id: string; slug: string; token: string }[];
  jobs: { id: string; tenant: number; name: string; ping_token: string; chatty: boolean }[];
}

/** Seeded random numbers, so two generations of one size give the same log. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COLUMNS = "id, tenant_id, job_id, kind, status, exit_code, rid, received_at, started_at, duration_ms, body, truncated, source, prev_id, start_id";
const WIDTH = 15;
const CHUNK = 64;

async function seed(db: Db, now: number): Promise<LogMeta> {
  const user = await createUser(db, { email: "alice@example.com", password: "alice-bench-password" });
  const meta: LogMeta = { generated_at: now, rows: 0, tenants: [], jobs: [] };
  db.transaction(() => {
    for (let t = 0; t < TENANTS; t++) {
      const tenant = createTenant(db, { slug: `tenant-${String(t).padStart(3, "0")}` }, user.id, now - SPAN_MS);
      // Nothing is due when the server starts: the retention phase lowers retention_days itself.
      updateTenantSettings(db, tenant.id, { retention_days: 3650, retention_runs: 100_000 });
      const { token } = createApiToken(db, tenant.id, user.id, { name: "bench", scopes: "read,write,admin" }, null, now - SPAN_MS);
      meta.tenants.push({ id: tenant.id, slug: tenant.slug, token });
    }
    for (let i = 0; i < JOBS; i++) {
      const t = i % TENANTS;
      const name = `job-${String(Math.floor(i / TENANTS)).padStart(3, "0")}`;
      const { job } = putJob(db, meta.tenants[t]!.id, "default", name, { schedule: "*/5 * * * *", grace: "1h" }, now - SPAN_MS);
      meta.jobs.push({ id: job.id, tenant: t, name, ping_token: job.ping_token, chatty: i < TENANTS });
    }
  })();
  return meta;
}

/** Writes `rows` check-ins into a seeded database, as the writer and then the engine leave them. */
function writeLog(db: Db, meta: LogMeta, rows: number, now: number): void {
  if (rows === 0) return;
  const rand = rng(rows);
  const jobs = meta.jobs;
  const tenantOf = jobs.map((j) => meta.tenants[j.tenant]!.id);
  const prev = new Array<number | null>(jobs.length).fill(null);
  const count = new Array<number>(jobs.length).fill(0);
  const lastAt = new Array<number | null>(jobs.length).fill(null);
  const pool = (n: number, make: (i: number) => string) => Array.from({ length: n }, (_, i) => make(i));
  const outputs = pool(64, (i) => `backup done: ${1000 + i * 37} files, ${(i * 13.7).toFixed(1)} MB in ${i % 60}s\nrotated logs, exit 0`);
  const errors = pool(16, (i) => `rsync: connection unexpectedly closed (${i * 11} bytes received so far) [receiver]\nrsync error: error in rsync protocol data stream (code 12) at io.c(228)`);
  const lines = pool(16, (i) => `step ${i}: still copying, ${i * 7}% done`);
  const sources = pool(32, (i) => `ping from 10.0.${i}.${(i * 7) % 250} (curl/8.5.0)`);
  const insert = db.query(`INSERT INTO checkins (${COLUMNS}) VALUES ${Array(CHUNK).fill(`(${Array(WIDTH).fill("?").join(",")})`).join(",")}`);
  const insertOne = db.query(`INSERT INTO checkins (${COLUMNS}) VALUES (${Array(WIDTH).fill("?").join(",")})`);
  const chatty = jobs.filter((j) => j.chatty).length;
  const params: (string | number | null)[] = [];
  let id = 0;
  const flushChunk = (force: boolean) => {
    while (params.length >= CHUNK * WIDTH) {
      insert.run(...params.splice(0, CHUNK * WIDTH));
    }
    if (force) {
      for (let i = 0; i < params.length; i += WIDTH) insertOne.run(...params.slice(i, i + WIDTH));
      params.length = 0;
    }
  };
  const push = (j: number, kind: string, status: string, exit: number | null, at: number, startedAt: number | null, duration: number | null, body: string | null, startId: number | null) => {
    id++;
    params.push(id, tenantOf[j]!, jobs[j]!.id, kind, status, exit, null, at, startedAt, duration, body, 0, sources[j % sources.length]!, prev[j]!, startId);
    prev[j] = id;
    count[j]!++;
    lastAt[j] = Math.max(lastAt[j] ?? 0, at);
    return id;
  };
  // All but the last row of each job, in arrival order, over SPAN_MS up to a minute ago.
  const body = rows - jobs.length;
  const start = now - SPAN_MS;
  const step = (SPAN_MS - 60_000) / body;
  const started = performance.now();
  const BATCH = 200_000;
  while (id < body) {
    db.transaction(() => {
      const stop = Math.min(body, id + BATCH);
      while (id < stop) {
        const at = Math.round(start + id * step);
        const j = rand() < CHATTY_SHARE ? Math.floor(rand() * chatty) : chatty + Math.floor(rand() * (jobs.length - chatty));
        const r = rand();
        if (r < 0.7) push(j, "success", "success", 0, at, null, null, rand() < 0.5 ? null : outputs[j % outputs.length]!, null);
        else if (r < 0.8 && stop - id >= 2) {
          // A wrapped run: its start, closed by its finish (the engine's doing), which got the times.
          const d = 1000 + Math.floor(rand() * 60_000);
          const s = push(j, "start", "closed", null, at, null, null, null, null);
          push(j, "success", "success", 0, at + d, at, d, outputs[j % outputs.length]!, s);
        } else if (r < 0.85) push(j, "fail", "failed", 1, at, null, null, errors[j % errors.length]!, null);
        else push(j, "log", "log", null, at, null, null, lines[j % lines.length]!, null);
        flushChunk(false);
      }
      flushChunk(true);
    })();
    if (id % 2_000_000 < BATCH) console.log(`  generated ${id} rows (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  const applied = id;
  // The job rows as the engine wrote them back for everything up to its cursor.
  const save = db.query("UPDATE jobs SET last_checkin_id = ?, checkins_total = ?, last_ping_at = ? WHERE id = ?");
  db.transaction(() => {
    for (let j = 0; j < jobs.length; j++) save.run(prev[j]!, count[j]!, lastAt[j]!, jobs[j]!.id);
    db.query("UPDATE engine_state SET value = ? WHERE key = 'checkins_applied'").run(applied);
  })();
  // Each job's newest check-in, a minute ago, not applied yet: the engine takes it at start.
  db.transaction(() => {
    const order = jobs.map((_, j) => j).sort(() => rand() - 0.5);
    for (const j of order) push(j, "success", "success", 0, now - 60_000 + Math.floor((id - applied) * (50_000 / jobs.length)), null, null, null, null);
    flushChunk(true);
  })();
  meta.rows = id;
}

/** The cached database of `rows` check-ins (generated on first use) and its metadata. */
export async function cachedLog(rows: number): Promise<{ db: string; meta: LogMeta }> {
  const key = `g${GEN_VERSION}-m${MIGRATIONS.length}-${rows}`;
  const dir = join(CACHE, key);
  if (!existsSync(join(dir, "meta.json"))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const started = performance.now();
    console.log(`generating a log of ${rows} check-ins in ${dir} …`);
    const now = Date.now();
    const db = openDb(join(tmp, "crontopus.db"));
    migrate(db);
    const meta = await seed(db, now);
    writeLog(db, meta, rows, now);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    writeFileSync(join(tmp, "meta.json"), JSON.stringify(meta));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    console.log(`  done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  return { db: join(dir, "crontopus.db"), meta: JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) };
}

/** A data directory holding a copy of the cached database (runs change it: retention deletes). */
export function copyToDataDir(db: string, dataDir: string): void {
  mkdirSync(dataDir, { recursive: true });
  copyFileSync(db, join(dataDir, "crontopus.db"));
}

export const fileSize = (p: string) => (existsSync(p) ? statSync(p).size : 0);

// ---- The measurements ----

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const SAMPLES = Number(process.env.BENCH_LOG_SAMPLES ?? 400);
const DEEP_SAMPLES = Number(process.env.BENCH_LOG_DEEP ?? 20);
const CONNS = 50;

const wrk = (url: string, script: string, seconds = SECONDS) => runWrk(url, script, CONNS, seconds);

function pingScript(path: string, meta: LogMeta, delayMs?: number): string {
  writeFileSync(
    path,
    `local tokens = {${meta.jobs.map((j) => `"${j.ping_token}"`).join(",")}}
math.randomseed(os.time())
request = function()
  return wrk.format("POST", "/ping/" .. tokens[math.random(#tokens)], {["Content-Type"] = "text/plain"}, "${"x".repeat(100)}")
end
${delayMs !== undefined ? `function delay() return ${delayMs} end\n` : ""}`,
  );
  return path;
}

/** A server on a copy of the database, its log lines (stderr, JSON) collected. */
async function serve(dataDir: string) {
  const started = performance.now();
  const s = await spawnServer(dataDir, { cpu: 0, stderr: "pipe", startTimeoutMs: 600_000, env: { CRONTOPUS_LOG_LEVEL: "info" } });
  const lines: { at: number; line: Record<string, unknown> }[] = [];
  (async () => {
    let rest = "";
    const reader = (s.proc.stderr as ReadableStream<Uint8Array>).getReader();
    for (let c = await reader.read(); !c.done; c = await reader.read()) {
      rest += new TextDecoder().decode(c.value);
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const l = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        try {
          lines.push({ at: performance.now(), line: JSON.parse(l) });
        } catch {
          process.stderr.write(l + "\n");
        }
      }
    }
  })();
  return { ...s, lines, startMs: performance.now() - started };
}

async function stop(proc: { kill(): void; exited: Promise<number> }) {
  proc.kill();
  await proc.exited;
}

const pct = (xs: number[]) => {
  const a = [...xs].sort((x, y) => x - y);
  return { p50: percentile(a, 50), p95: percentile(a, 95), p99: percentile(a, 99), max: a.at(-1)! };
};
const fmt = (p: ReturnType<typeof pct>) => `p50 ${ms(p.p50)}  p95 ${ms(p.p95)}  p99 ${ms(p.p99)}  max ${ms(p.max)}`;

async function timed(url: string, token: string): Promise<{ ms: number; body: { runs: unknown[]; next_cursor: string | null } }> {
  const t = performance.now();
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = (await r.json()) as { runs: unknown[]; next_cursor: string | null };
  const took = performance.now() - t;
  if (!r.ok) throw new Error(`${url}: ${r.status} ${JSON.stringify(body)}`);
  return { ms: took, body };
}

/** Follows next_cursor 100 times from the first page, then times the page it got to. */
async function deepPage(base: string, token: string): Promise<number | null> {
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const { body } = await timed(base + (cursor ? `${base.includes("?") ? "&" : "?"}cursor=${cursor}` : ""), token);
    cursor = body.next_cursor;
    if (!cursor) return null;
  }
  return (await timed(`${base}${base.includes("?") ? "&" : "?"}cursor=${cursor}`, token)).ms;
}

async function main() {
  if (!Bun.which("wrk")) {
    console.log("log: wrk is not installed (apt-get install wrk); skipped");
    return;
  }
  // The timing client and wrk on CPU 1, the servers on CPU 0.
  if (Bun.which("taskset")) await Bun.spawn(["taskset", "-a", "-p", "-c", "1", String(process.pid)], { stdout: "ignore" }).exited;
  console.log(`load when starting: ${readFileSync("/proc/loadavg", "utf8").trim()} (2 cores here are shared: figures are noisy)`);
  const big = await cachedLog(ROWS);
  const empty = await cachedLog(0);
  const perMillion = fileSize(big.db) / (big.meta.rows / 1e6);
  const work = tempDataDir();
  const bigDir = join(work, "big");
  const emptyDir = join(work, "empty");
  const t0 = performance.now();
  copyToDataDir(big.db, bigDir);
  copyToDataDir(empty.db, emptyDir);
  console.log(`copied the cached log (${(fileSize(big.db) / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const bigServer = await serve(bigDir);
  const emptyServer = await serve(emptyDir);
  console.log(`server start on the ${big.meta.rows}-row log: ${(bigServer.startMs / 1000).toFixed(2)} s (empty log: ${(emptyServer.startMs / 1000).toFixed(2)} s)`);

  // ---- Throughput, big log against an empty one, in turns
  const bigLua = pingScript(join(work, "big.lua"), big.meta);
  const emptyLua = pingScript(join(work, "empty.lua"), empty.meta);
  await wrk(emptyServer.url, emptyLua, 2);
  await wrk(bigServer.url, bigLua, 2);
  const bigRuns: WrkResult[] = [];
  const emptyRuns: WrkResult[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await Bun.sleep(1500);
    emptyRuns.push(await wrk(emptyServer.url, emptyLua));
    await Bun.sleep(1500);
    bigRuns.push(await wrk(bigServer.url, bigLua));
  }
  await stop(emptyServer.proc);
  const bigRps = median(bigRuns.map((r) => r.rps));
  const emptyRps = median(emptyRuns.map((r) => r.rps));
  const ratio = bigRps / emptyRps;
  const bad = [...bigRuns, ...emptyRuns].reduce((n, r) => n + r.non2xx + r.errors, 0);

  // ---- /runs pages through HTTP, the server otherwise idle
  const rand = rng(7);
  const api = `${bigServer.url}/api/v1/runs`;
  const jobFirst: number[] = [];
  const tenantFirst: number[] = [];
  const chattyFirst: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const j = big.meta.jobs[Math.floor(rand() * big.meta.jobs.length)]!;
    jobFirst.push((await timed(`${api}?job=${j.id}`, big.meta.tenants[j.tenant]!.token)).ms);
    const c = big.meta.jobs[Math.floor(rand() * TENANTS)]!;
    chattyFirst.push((await timed(`${api}?job=${c.id}`, big.meta.tenants[c.tenant]!.token)).ms);
    const t = big.meta.tenants[Math.floor(rand() * big.meta.tenants.length)]!;
    tenantFirst.push((await timed(api, t.token)).ms);
  }
  const jobDeep: number[] = [];
  const tenantDeep: number[] = [];
  for (let i = 0; i < DEEP_SAMPLES; i++) {
    // Only the busiest jobs have 100 pages (5,000 runs) of history.
    const c = big.meta.jobs[Math.floor(rand() * TENANTS)]!;
    const d = await deepPage(`${api}?job=${c.id}`, big.meta.tenants[c.tenant]!.token);
    if (d !== null) jobDeep.push(d);
    const t = big.meta.tenants[Math.floor(rand() * big.meta.tenants.length)]!;
    const e = await deepPage(api, t.token);
    if (e !== null) tenantDeep.push(e);
  }

  // ---- Retention: pings at half the peak rate; after a first segment, a quarter of the log falls
  // due (every tenant's retention_days lowered through the API, which starts a pass), and the
  // pass runs while the pings go on.
  const dueBefore = big.meta.generated_at - 30 * 86_400_000;
  const days = Math.round((Date.now() - dueBefore) / 86_400_000);
  const peak = nearest(bigRuns, bigRps);
  const delayMs = Math.max(1, Math.round((CONNS / (bigRps / 2)) * 1000 - peak.p50));
  const pacedLua = pingScript(join(work, "paced.lua"), big.meta, delayMs);
  const segments: { from: number; to: number; r: WrkResult; wal: number }[] = [];
  const walPath = join(bigDir, "crontopus.db-wal");
  let pass: { at: number; line: Record<string, unknown> } | undefined;
  const limit = performance.now() + Number(process.env.BENCH_LOG_RETENTION_S ?? 1200) * 1000;
  const lowerRetention = async () => {
    for (const t of big.meta.tenants) {
      const r = await fetch(`${bigServer.url}/api/v1/tenants/current`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json" },
        body: JSON.stringify({ retention_days: days }),
      });
      if (!r.ok) throw new Error(`PATCH retention: ${r.status} ${await r.text()}`);
    }
  };
  while (!pass && performance.now() < limit) {
    if (segments.length === 1) await lowerRetention();
    const from = performance.now();
    let wal = 0;
    const sampler = setInterval(() => (wal = Math.max(wal, fileSize(walPath))), 250);
    const r = await wrk(bigServer.url, pacedLua, 10);
    clearInterval(sampler);
    segments.push({ from, to: performance.now(), r, wal });
    pass = bigServer.lines.find((l) => l.line.msg === "history pruned");
  }
  await stop(bigServer.proc);
  const deleted = Number(pass?.line.checkins ?? 0);
  const passMs = Number(pass?.line.ms ?? 0);
  const passFrom = pass ? pass.at - passMs : Infinity;
  const during = segments.filter((s) => s.to > passFrom && s.from < (pass?.at ?? 0));
  const before = segments.filter((s) => s.to <= passFrom);
  const worst = during.length ? Math.max(...during.map((s) => s.r.p99)) : NaN;

  console.log(`log: ${big.meta.rows} check-ins, ${TENANTS} tenants, ${JOBS} jobs; database ${(fileSize(big.db) / 2 ** 20).toFixed(0)} MiB = ${(perMillion / 2 ** 20).toFixed(0)} MiB per million check-ins`);
  console.log(`check-ins on the big log (median of ${bigRuns.map((r) => r.rps.toFixed(0)).join(", ")}): ${bigRps.toFixed(0)}/s  p99 ${ms(peak.p99)}`);
  console.log(`check-ins on an empty log (median of ${emptyRuns.map((r) => r.rps.toFixed(0)).join(", ")}): ${emptyRps.toFixed(0)}/s  (non-2xx or socket errors: ${bad})`);
  console.log(`  ratio ${ratio.toFixed(2)}  target >= 0.9: ${verdict(ratio >= 0.9)}`);
  const jf = pct(jobFirst);
  const cf = pct(chattyFirst);
  const tf = pct(tenantFirst);
  console.log(`first page of /runs?job= (${SAMPLES} random jobs): ${fmt(jf)}  target p95 < 20 ms: ${verdict(jf.p95 < 20)}`);
  console.log(`  of the busiest jobs (${SAMPLES}): ${fmt(cf)}  target p95 < 20 ms: ${verdict(cf.p95 < 20)}`);
  console.log(`first page of a tenant's /runs (${SAMPLES} random tenants): ${fmt(tf)}  target p95 < 20 ms: ${verdict(tf.p95 < 20)}`);
  if (jobDeep.length) {
    const p = pct(jobDeep);
    console.log(`page 100 cursors deep, /runs?job= (${jobDeep.length} busiest jobs): ${fmt(p)}  target < 50 ms (max): ${verdict(p.max < 50)}`);
  } else console.log("page 100 cursors deep, /runs?job=: no job has 100 pages at this size (BENCH_LOG_ROWS)");
  if (tenantDeep.length) {
    const p = pct(tenantDeep);
    console.log(`page 100 cursors deep, tenant /runs (${tenantDeep.length} tenants): ${fmt(p)}  target < 50 ms (max): ${verdict(p.max < 50)}`);
  } else console.log("page 100 cursors deep, tenant /runs: no tenant has 100 pages at this size (BENCH_LOG_ROWS)");
  console.log(`retention: retention_days ${days} for every tenant through the API, while pings go on`);
  if (!pass) console.log(`  the pass did not end within the time allowed: ${verdict(false)}`);
  else {
    console.log(`  the pass deleted ${deleted} check-ins in ${(passMs / 1000).toFixed(1)} s (${((deleted / passMs) * 1000).toFixed(0)} rows/s)`);
    const b = before.length ? Math.max(...before.map((s) => s.r.p99)) : NaN;
    console.log(`  pings at half the peak (${during.map((s) => s.r.rps.toFixed(0)).join(", ")}/s in 10 s segments during the pass; paced): p99 per segment ${during.map((s) => s.r.p99.toFixed(2)).join(", ")} ms (before the pass: ${b.toFixed(2)} ms)`);
    console.log(`  WAL at most ${(Math.max(...segments.map((s) => s.wal)) / 2 ** 20).toFixed(0)} MiB during the pass; non-2xx ${segments.reduce((n, s) => n + s.r.non2xx + s.r.errors, 0)}`);
    console.log(`  worst p99 ${worst.toFixed(2)} ms  target < 10 ms: ${verdict(worst < 10)}  deleted a quarter of the log (5M at 20M rows): ${verdict(deleted >= 0.95 * (big.meta.rows / 4))}`);
  }
  console.log(`database after the pass: ${(fileSize(join(bigDir, "crontopus.db")) / 2 ** 20).toFixed(0)} MiB (freed pages are reused, the file does not shrink)`);
  rmSync(work, { recursive: true, force: true });
}

if (process.argv[2] === "generate") await cachedLog(ROWS);
else await main();
process.exit(0);
