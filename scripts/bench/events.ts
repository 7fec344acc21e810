// What the live event stream costs the check-in path: POST /ping/<token> at the peak (wrk, 50
// connections, random jobs of 10,000 in one tenant) with 0 and with 50 open streams of that
// tenant (GET /api/v1/events, as 50 open pages). Target from issue 12: less than 5% of the
// throughput. The machine is shared, so besides check-ins/s it reports the server's CPU time
// per check-in (utime + stime of the server process from /proc, over the run, divided by the
// requests), which load on the other core disturbs far less; and the same again at a fixed rate
// (BENCH_PACED_RATE, default 5,000/s), which a shared core still keeps up with, so that batch
// sizes do not change with the load of the moment.
// Server pinned to CPU 0; wrk and the 50 readers (one process, nice 19 so wrk goes first) on
// CPU 1. Rounds alternate (BENCH_ROUNDS, default 3: 0 streams, 50 streams, …) and are compared
// by their medians. After a round with streams the bench waits out the hub's linger (LINGER_MS)
// so that the next round without streams has no channel left. The readers also report what
// they got: events, bytes, drops, and how long a run took from its check-in to the page.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDb } from "../../src/db";
import { createUser } from "../../src/auth/identity";
import { createTenant } from "../../src/tenants/tenants";
import { createApiToken } from "../../src/auth/apitokens";
import { putJob } from "../../src/jobs/jobs";
import { LINGER_MS } from "../../src/events/hub";
import { median, pin, spawnServer, tempDataDir, verdict, wrk } from "./lib";

const JOBS = 10_000;
const STREAMS = Number(process.env.BENCH_STREAMS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const CONNS = 50;
if (!Bun.which("wrk")) {
  console.log("events: wrk is not installed (apt-get install wrk); skipped");
  process.exit(0);
}

const data = tempDataDir();
const db = openDb(join(data, "crontopus.db"));
migrate(db);
const user = await createUser(db, { email: "bench@example.com", password: "bench-password" });
const tenant = createTenant(db, { slug: "bench" }, user.id);
const { token } = createApiToken(db, tenant.id, user.id, { name: "pages" });
const tokens: string[] = [];
db.transaction(() => {
  for (let i = 0; i < JOBS; i++) tokens.push(putJob(db, tenant.id, "default", `job-${i}`, { schedule: "*/5 * * * *", grace: "1h" }, Date.now()).job.ping_token);
})();
db.close();
const body = "x".repeat(100);
const lua = join(data, "ping.lua");
writeFileSync(
  lua,
  `local tokens = {${tokens.map((t) => `"${t}"`).join(",")}}
math.randomseed(os.time())
request = function()
  return wrk.format("POST", "/ping/" .. tokens[math.random(#tokens)], {["Content-Type"] = "text/plain"}, "${body}")
end
`,
);

// The same requests at a fixed rate: each connection waits before its next one.
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 5000);
const pacedLua = join(data, "paced.lua");
writeFileSync(pacedLua, readFileSync(lua, "utf8") + `\nfunction delay() return ${Math.max(1, Math.round((CONNS / PACED_RATE) * 1000))} end\n`);

// The 50 pages: one process reading every stream as a browser would, counting what it gets.
const readers = join(data, "readers.ts");
writeFileSync(
  readers,
  `// Kept light (bytes counted natively, one chunk in 20 parsed) so that it takes little from wrk.
const [url, token, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const lags = [];
let events = 0, skipped = 0, bytes = 0, runs = 0, chunks = 0, ended = 0;
const count = (buf, word) => { let k = 0; for (let i = buf.indexOf(word); i >= 0; i = buf.indexOf(word, i + 1)) k++; return k; };
async function read(body) {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      bytes += buf.length;
      events += count(buf, "\\nevent: ");
      runs += count(buf, "\\nevent: run\\n");
      if (chunks++ % 20 !== 0) continue;
      // How long from its check-in (the server's clock) to this page: the newest run of the chunk.
      const text = buf.toString();
      for (const m of text.matchAll(/event: runs-skipped\\ndata: {"count":(\\d+)}/g)) skipped += Number(m[1]);
      const at = text.lastIndexOf("event: run\\ndata: ");
      const end = text.indexOf("\\n", at + 17);
      // A chunk may end inside an event: then the line is not whole.
      if (at >= 0 && end > 0) {
        const run = JSON.parse(text.slice(at + 17, end));
        lags.push(Date.now() - Date.parse(run.finished_at ?? run.started_at));
      }
    }
  } catch {}
  ended++;
}
const aborts = [];
const answers = await Promise.all(Array.from({ length: n }, () => {
  const a = new AbortController();
  aborts.push(a);
  return fetch(url + "/api/v1/events", { headers: { authorization: "Bearer " + token }, signal: a.signal });
}));
for (const r of answers) read(r.body);
console.log(JSON.stringify({ ready: answers.filter((r) => r.status === 200).length }));
await new Promise((r) => process.stdin.once("data", r));
lags.sort((a, b) => a - b);
const q = (p) => lags.length ? lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] : NaN;
console.log(JSON.stringify({ events, skipped: skipped * 20, bytes, ended, lagP50: q(0.5), lagP99: q(0.99), runs }));
for (const a of aborts) a.abort();
process.exit(0);
`,
);

interface ReaderSummary {
  events: number;
  skipped: number;
  bytes: number;
  ended: number;
  lagP50: number;
  lagP99: number;
  runs: number;
}

async function openPages(url: string) {
  const p = Bun.spawn(pin(1, ["nice", "-n", "19", process.execPath, readers, url, token, String(STREAMS)]), { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const out = p.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const line = async () => {
    while (!text.includes("\n")) {
      const { done, value } = await out.read();
      if (done) throw new Error("readers ended");
      text += decoder.decode(value);
    }
    const i = text.indexOf("\n");
    const l = text.slice(0, i);
    text = text.slice(i + 1);
    return JSON.parse(l);
  };
  const ready = (await line()) as { ready: number };
  if (ready.ready !== STREAMS) throw new Error(`only ${ready.ready} of ${STREAMS} streams opened`);
  return {
    async close(): Promise<ReaderSummary> {
      p.stdin.write("stop\n");
      p.stdin.flush();
      const summary = (await line()) as ReaderSummary;
      await p.exited;
      return summary;
    },
  };
}

const TICK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
/** The process's CPU time so far (user + system), in microseconds. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) / TICK) * 1e6;
}

const { url, proc } = await spawnServer(data, { cpu: 0 });
await wrk(url, lua, CONNS, 2); // warm-up

interface Round {
  rps: number;
  p99: number;
  cpuPerCheckin: number;
  /** The share of the run's wall time the server was on a CPU. */
  busy: number;
  requests: number;
  non2xx: number;
  /** At PACED_RATE check-ins/s. */
  paced: { rps: number; p99: number; cpuPerCheckin: number };
  pages?: ReaderSummary;
}
const runs: Record<"none" | "pages", Round[]> = { none: [], pages: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const kind of ["none", "pages"] as const) {
    // Let the last checkpoint finish; after streams, let the hub forget the tenant's channel.
    await Bun.sleep(kind === "none" && round > 0 ? LINGER_MS + 2000 : 1500);
    const pages = kind === "pages" ? await openPages(url) : null;
    const before = cpuMicros(proc.pid);
    const t0 = performance.now();
    const r = await wrk(url, lua, CONNS, SECONDS);
    const used = cpuMicros(proc.pid) - before;
    const busy = used / ((performance.now() - t0) * 1000);
    // The same at a fixed rate the server keeps up with even on a shared core.
    const pacedBefore = cpuMicros(proc.pid);
    const p = await wrk(url, pacedLua, CONNS, SECONDS);
    const pacedUsed = cpuMicros(proc.pid) - pacedBefore;
    const summary = pages ? await pages.close() : undefined;
    runs[kind].push({
      rps: r.rps,
      p99: r.p99,
      cpuPerCheckin: used / Math.max(1, r.requests),
      busy,
      requests: r.requests,
      non2xx: r.non2xx + p.non2xx,
      paced: { rps: p.rps, p99: p.p99, cpuPerCheckin: pacedUsed / Math.max(1, p.requests) },
      pages: summary,
    });
  }
}
proc.kill();
await proc.exited;

const med = (xs: Round[], f: (r: Round) => number) => median(xs.map(f));
const rps0 = med(runs.none, (r) => r.rps);
const rps50 = med(runs.pages, (r) => r.rps);
const cpu0 = med(runs.none, (r) => r.cpuPerCheckin);
const cpu50 = med(runs.pages, (r) => r.cpuPerCheckin);
const fmt = (xs: Round[]) => xs.map((r) => `${r.rps.toFixed(0)}/s ${r.cpuPerCheckin.toFixed(1)} µs ${(r.busy * 100).toFixed(0)}% busy`).join(", ");
console.log(`check-ins with 0 streams  (rounds: ${fmt(runs.none)}): median ${rps0.toFixed(0)}/s, server CPU ${cpu0.toFixed(1)} µs per check-in`);
console.log(`check-ins with ${STREAMS} streams (rounds: ${fmt(runs.pages)}): median ${rps50.toFixed(0)}/s, server CPU ${cpu50.toFixed(1)} µs per check-in`);
const rpsRatio = rps50 / rps0;
const cpuRatio = cpu50 / cpu0;
console.log(`  throughput ratio ${rpsRatio.toFixed(3)} (cost ${((1 - rpsRatio) * 100).toFixed(1)}%)  target >= 0.95: ${verdict(rpsRatio >= 0.95)}`);
console.log(`  CPU per check-in ratio ${cpuRatio.toFixed(3)} (cost ${((cpuRatio - 1) * 100).toFixed(1)}%)  target <= 1.05: ${verdict(cpuRatio <= 1.05)}`);
const pcpu0 = med(runs.none, (r) => r.paced.cpuPerCheckin);
const pcpu50 = med(runs.pages, (r) => r.paced.cpuPerCheckin);
const pfmt = (xs: Round[]) => xs.map((r) => `${r.paced.rps.toFixed(0)}/s ${r.paced.cpuPerCheckin.toFixed(1)} µs p99 ${r.paced.p99.toFixed(1)} ms`).join(", ");
console.log(`at a fixed ${PACED_RATE}/s, 0 streams  (rounds: ${pfmt(runs.none)}): server CPU ${pcpu0.toFixed(1)} µs per check-in`);
console.log(`at a fixed ${PACED_RATE}/s, ${STREAMS} streams (rounds: ${pfmt(runs.pages)}): server CPU ${pcpu50.toFixed(1)} µs per check-in`);
console.log(`  CPU per check-in ratio ${(pcpu50 / pcpu0).toFixed(3)} (cost ${((pcpu50 / pcpu0 - 1) * 100).toFixed(1)}%)  target <= 1.05: ${verdict(pcpu50 / pcpu0 <= 1.05)}`);
// Each round with streams against the round without just before it: the load of the moment
// weighs on both alike.
const pairs = runs.pages.map((r, i) => r.cpuPerCheckin / runs.none[i]!.cpuPerCheckin);
const pairRps = runs.pages.map((r, i) => r.rps / runs.none[i]!.rps);
console.log(`  paired rounds: CPU ratios ${pairs.map((x) => x.toFixed(3)).join(", ")} (median ${median(pairs).toFixed(3)}); throughput ratios ${pairRps.map((x) => x.toFixed(3)).join(", ")} (median ${median(pairRps).toFixed(3)})`);
for (const [i, r] of runs.pages.entries()) {
  const p = r.pages!;
  // The readers listened through both runs of the round.
  const secs = 2 * SECONDS;
  console.log(
    `  round ${i + 1} pages: ${(p.events / STREAMS / secs).toFixed(0)} events/s per stream (${(p.bytes / STREAMS / secs / 1024).toFixed(0)} KiB/s), runs skipped about ${(p.skipped / STREAMS).toFixed(0)} per stream of ${r.requests + Math.round(r.paced.rps * SECONDS)} check-ins; ` +
      `check-in to page p50 ${p.lagP50.toFixed(0)} ms p99 ${p.lagP99.toFixed(0)} ms; streams ended by the server ${p.ended}`,
  );
}
const non2xx = [...runs.none, ...runs.pages].reduce((n, r) => n + r.non2xx, 0);
const dropped = runs.pages.reduce((n, r) => n + r.pages!.ended, 0);
console.log(`  non-2xx answers ${non2xx}, streams dropped ${dropped}: ${verdict(non2xx === 0 && dropped === 0)}`);
