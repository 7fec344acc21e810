// Check-ins per second and latency of POST /ping/<token> (100-byte body) against 10,000 jobs,
// next to a bare Bun.serve "OK" server measured the same way in the same run.
// Server pinned to CPU 0, wrk (50 connections) on CPU 1. Target: >= 0.5 of bare Bun, and
// p99 < 10 ms at half the peak rate. Every 200 must be a committed row: counted at the end.
// Runs with CRONTOPUS_SQLITE_SYNC=NORMAL and FULL (BENCH_SYNC=NORMAL to run one).
// The two are measured in turns (BENCH_ROUNDS, default 3: bare, Crontopus, bare, …) and
// compared by their medians: on a shared machine one run of either can be off by 15%.
// Then sustained runs at the peak (BENCH_SUSTAINED_SECONDS, default 60; 0 to skip), each with the
// WAL size sampled every 250 ms and each between two 20 s runs of bare Bun: a short run hides the
// checkpoint cost. They alternate like the short rounds (BENCH_SUSTAINED_ROUNDS, default 3: bare,
// sustained, bare, sustained, …, bare), each sustained run on the log the ones before it grew, and
// the ratio is the median of each run's ratio to the mean of the bare runs on either side of it.
// Target: the WAL stays under 64 MB in every run and the ratio holds; after the load stops the
// WAL shrinks back.
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { migrate, openDb } from "../../src/db";
import { createUser } from "../../src/auth/identity";
import { createTenant } from "../../src/tenants/tenants";
import { putJob } from "../../src/jobs/jobs";
import { freePort, median, nearest, pacedLua, pin, pingLua, spawnServer, tempDataDir, verdict, wrk as runWrk, type WrkResult } from "./lib";

const JOBS = 10_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const SUSTAINED = Number(process.env.BENCH_SUSTAINED_SECONDS ?? 60);
const CONNS = 50;
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const SUSTAINED_ROUNDS = Math.max(1, Number(process.env.BENCH_SUSTAINED_ROUNDS ?? 3));
const wrkBin = Bun.which("wrk");
if (!wrkBin) {
  console.log("checkins: wrk is not installed (apt-get install wrk); skipped");
  process.exit(0);
}

const wrk = (url: string, script: string, conns = CONNS, seconds = SECONDS) => runWrk(url, script, conns, seconds);

const dir = tempDataDir();
const body = "x".repeat(100);

// Bare Bun.serve answering "OK": the ceiling on this machine. Kept running for the turns.
const barePort = await freePort();
const bareScript = join(dir, "bare.ts");
writeFileSync(bareScript, `Bun.serve({ port: ${barePort}, hostname: "127.0.0.1", async fetch(r) { await r.text(); return new Response("OK"); } });`);
const bare = Bun.spawn(pin(0, [process.execPath, bareScript]), { stdout: "ignore", stderr: "inherit" });
await Bun.sleep(400);
const postLua = join(dir, "post.lua");
writeFileSync(postLua, `wrk.method = "POST"\nwrk.body = "${body}"\nwrk.headers["Content-Type"] = "text/plain"\n`);
await wrk(`http://127.0.0.1:${barePort}/ping/x`, postLua, CONNS, 2); // warm-up
const bareRuns: WrkResult[] = [];
process.on("exit", () => bare.kill());

for (const sync of (process.env.BENCH_SYNC ?? "NORMAL,FULL").split(",")) {
  const data = tempDataDir();
  const db = openDb(join(data, "crontopus.db"));
  migrate(db);
  const user = await createUser(db, { email: "bench@example.com", password: "bench-password" });
  const tenant = createTenant(db, { slug: "bench" }, user.id);
  const tokens: string[] = [];
  db.transaction(() => {
    for (let i = 0; i < JOBS; i++) {
      const { job } = putJob(db, tenant.id, "default", `job-${i}`, { schedule: "*/5 * * * *", grace: "1h" }, Date.now());
      tokens.push(job.ping_token);
    }
  })();
  db.close();
  const lua = join(data, "ping.lua");
  writeFileSync(lua, pingLua(tokens, body));
  const { url, proc } = await spawnServer(data, { cpu: 0, env: { CRONTOPUS_SQLITE_SYNC: sync, ...(process.env.BENCH_TICK_MS ? { CRONTOPUS_TICK_MS: process.env.BENCH_TICK_MS } : {}) } });
  await wrk(url, lua, CONNS, 2); // warm-up
  const peaks: WrkResult[] = [];
  const bares: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Let the server's last checkpoint finish first: the bare server shares its core.
    await Bun.sleep(1500);
    const b = await wrk(`http://127.0.0.1:${barePort}/ping/x`, postLua);
    bareRuns.push(b);
    bares.push(b.rps);
    peaks.push(await wrk(url, lua));
  }
  const bareRps = median(bares);
  const peakRps = median(peaks.map((p) => p.rps));
  const peak = nearest(peaks, peakRps);
  // Half the peak rate, paced: each connection waits before its next request.
  const halfConns = CONNS;
  const paced = join(data, "paced.lua");
  writeFileSync(paced, pacedLua(await Bun.file(lua).text(), halfConns, peakRps / 2, peak.p50));
  const half = await wrk(url, paced, halfConns);
  const sustained: { run: WrkResult; bares: [WrkResult, WrkResult]; ratio: number; maxWal: number; afterWal: number }[] = [];
  if (SUSTAINED > 0) {
    const walPath = join(data, "crontopus.db-wal");
    const walSize = () => {
      try {
        return statSync(walPath).size;
      } catch {
        return 0;
      }
    };
    // Bare Bun just before and just after each run, over 20 s each: each run's ratio is to their
    // mean (on a shared machine the ceiling itself moves by 15% in a minute).
    const bareLong = () => wrk(`http://127.0.0.1:${barePort}/ping/x`, postLua, CONNS, Math.min(SUSTAINED, 20));
    let before = await bareLong();
    bareRuns.push(before);
    for (let round = 0; round < SUSTAINED_ROUNDS; round++) {
      await Bun.sleep(1500);
      let maxWal = 0;
      const sampler = setInterval(() => (maxWal = Math.max(maxWal, walSize())), 250);
      const run = await wrk(url, lua, CONNS, SUSTAINED);
      clearInterval(sampler);
      await Bun.sleep(2000);
      const afterWal = walSize();
      const after = await bareLong();
      bareRuns.push(after);
      sustained.push({ run, bares: [before, after], ratio: run.rps / ((before.rps + after.rps) / 2), maxWal, afterWal });
      before = after;
    }
  }
  await Bun.sleep(600);
  proc.kill();
  await proc.exited;
  const check = new Database(join(data, "crontopus.db"), { readonly: true });
  const rows = check.query<{ n: number }, []>("SELECT count(*) AS n FROM checkins").get()!.n;
  check.close();
  const ok = peaks.reduce((n, p) => n + p.requests - p.non2xx, 0) + half.requests - half.non2xx + sustained.reduce((n, x) => n + x.run.requests - x.run.non2xx, 0);
  const ratio = peakRps / bareRps;
  const b = nearest(bareRuns, bareRps);
  console.log(`bare Bun.serve (median of ${bares.map((x) => x.toFixed(0)).join(", ")}): ${bareRps.toFixed(0)} req/s  p50 ${b.p50.toFixed(2)} ms  p99 ${b.p99.toFixed(2)} ms`);
  console.log(`crontopus ping, synchronous=${sync} (median of ${peaks.map((p) => p.rps.toFixed(0)).join(", ")}): ${peakRps.toFixed(0)} check-ins/s  p50 ${peak.p50.toFixed(2)} ms  p99 ${peak.p99.toFixed(2)} ms  (non-2xx ${peaks.reduce((n, p) => n + p.non2xx, 0)}, socket errors ${peaks.reduce((n, p) => n + p.errors, 0)})`);
  console.log(`  ratio to bare Bun: ${ratio.toFixed(2)}  target >= 0.5: ${verdict(ratio >= 0.5)}`);
  console.log(`  at half the peak (${half.rps.toFixed(0)}/s, paced): p50 ${half.p50.toFixed(2)} ms  p99 ${half.p99.toFixed(2)} ms  target p99 < 10 ms: ${verdict(half.p99 < 10)}`);
  if (sustained.length > 0) {
    const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
    for (const [i, { run: r, bares: [before, after], ratio }] of sustained.entries()) {
      console.log(`  sustained run ${i + 1}, ${SUSTAINED} s at the peak: ${r.rps.toFixed(0)} check-ins/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  (non-2xx ${r.non2xx})  ratio ${ratio.toFixed(2)} to bare ${((before.rps + after.rps) / 2).toFixed(0)}/s (mean of ${before.rps.toFixed(0)} before and ${after.rps.toFixed(0)} after)`);
    }
    const sratio = median(sustained.map((x) => x.ratio));
    const maxWal = Math.max(...sustained.map((x) => x.maxWal));
    console.log(`  sustained ratio to bare Bun (median of ${sustained.map((x) => x.ratio.toFixed(2)).join(", ")}): ${sratio.toFixed(2)}  target >= 0.5: ${verdict(sratio >= 0.5)}`);
    console.log(`  WAL during them at most ${mb(maxWal)}  target < 64 MB: ${verdict(maxWal < 64 * 1048576)}; 2 s after each: ${sustained.map((x) => mb(x.afterWal)).join(", ")}`);
  }
  console.log(`  committed rows ${rows} >= answered 200s ${ok} (plus warm-up): ${verdict(rows >= ok)}`);
}
// The bare server is a child process: it keeps this one alive until it is gone.
bare.kill();
await bare.exited;
