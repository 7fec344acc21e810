// What the live event stream costs the check-in path: POST /ping/<token> at the peak (wrk, 50
// connections, random jobs of 10,000 in one tenant) with 0 and with 50 open streams of that
// tenant (GET /api/v1/events, as 50 open pages). Target from issue 12: less than 5% of the
// throughput. The machine is shared, so besides check-ins/s it reports the server's CPU time
// per check-in (utime + stime of the server process from /proc, divided by the check-ins),
// which load elsewhere disturbs less.
// Server pinned to CPU 0; wrk and the 50 readers (one process, nice 19 so wrk goes first) on
// CPU 1. Two measurements:
// 1. Rounds (BENCH_ROUNDS, default 3, of BENCH_SECONDS, default 8): 0 streams, 50 streams, …,
//    compared by their medians and pair by pair. Before a round without streams the bench waits
//    out the hub's linger (LINGER_MS), so that the tenant has no channel at all.
// 2. Slices (BENCH_SLICES, default 16, of 3 s) within one long wrk run: the 50 streams are
//    opened and closed in turn, so that both states share the load of the moment. In a slice
//    without streams the tenant's channel still lingers (it gathers ids, renders nothing).
// The readers also report what they got: events, bytes, drops, and how long a
// run took from its check-in to the page.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
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
const SLICES = Math.max(2, Number(process.env.BENCH_SLICES ?? 16));
const SLICE_MS = 3000;
const CONNS = 50;
if (!Bun.which("wrk")) {
  console.log("events: wrk is not installed (apt-get install wrk); skipped");
  process.exit(0);
}

const data = tempDataDir();
const dbPath = join(data, "crontopus.db");
const db = openDb(dbPath);
migrate(db);
const user = await createUser(db, { email: "bench@example.com", password: "bench-password" });
const tenant = createTenant(db, { slug: "bench" }, user.id);
const { token } = createApiToken(db, tenant.id, user.id, { name: "pages" });
const tokens: string[] = [];
db.transaction(() => {
  for (let i = 0; i < JOBS; i++) tokens.push(putJob(db, tenant.id, "default", `job-${i}`, { schedule: "*/5 * * * *", grace: "1h" }, Date.now()).job.ping_token);
})();
db.close();
const lua = join(data, "ping.lua");
writeFileSync(
  lua,
  `local tokens = {${tokens.map((t) => `"${t}"`).join(",")}}
math.randomseed(os.time())
request = function()
  return wrk.format("POST", "/ping/" .. tokens[math.random(#tokens)], {["Content-Type"] = "text/plain"}, "${"x".repeat(100)}")
end
`,
);

// The 50 pages: one process reading every stream as a browser would, told on stdin to open or
// close them. Kept light (bytes counted natively, one chunk in 20 parsed) so that it takes little
// from wrk.
const readers = join(data, "readers.ts");
writeFileSync(
  readers,
  `const [url, token, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const lags = [];
let events = 0, bytes = 0, chunks = 0, dropped = 0;
let open = [];
const count = (buf, word) => { let k = 0; for (let i = buf.indexOf(word); i >= 0; i = buf.indexOf(word, i + 1)) k++; return k; };
async function read(body, abort) {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      bytes += buf.length;
      events += count(buf, "\\nevent: ");
      if (chunks++ % 20 !== 0) continue;
      const text = buf.toString();
      // How long from its check-in (the server's clock) to this page: the newest run of the chunk.
      const at = text.lastIndexOf("event: run\\ndata: ");
      const end = text.indexOf("\\n", at + 17);
      if (at >= 0 && end > 0) {
        const run = JSON.parse(text.slice(at + 17, end));
        lags.push(Date.now() - Date.parse(run.finished_at ?? run.started_at));
      }
    }
  } catch {}
  if (!abort.signal.aborted) dropped++;
}
const say = (o) => console.log(JSON.stringify(o));
let buffered = "";
for await (const chunk of process.stdin) {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf("\\n")) >= 0) {
    const cmd = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (cmd === "open") {
      open = await Promise.all(Array.from({ length: n }, async () => {
        const abort = new AbortController();
        const r = await fetch(url + "/api/v1/events", { headers: { authorization: "Bearer " + token }, signal: abort.signal });
        if (r.status === 200) read(r.body, abort);
        return { abort, ok: r.status === 200 };
      }));
      say({ opened: open.filter((o) => o.ok).length });
    } else if (cmd === "close") {
      for (const o of open) o.abort.abort();
      open = [];
      say({ closed: true });
    } else if (cmd === "stop") {
      lags.sort((a, b) => a - b);
      const q = (p) => lags.length ? lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] : NaN;
      say({ events, bytes, dropped, lagP50: q(0.5), lagP99: q(0.99) });
      process.exit(0);
    }
  }
}
`,
);

interface ReaderSummary {
  events: number;
  bytes: number;
  dropped: number;
  lagP50: number;
  lagP99: number;
}

function startReaders(url: string) {
  const p = Bun.spawn(pin(1, ["nice", "-n", "19", process.execPath, readers, url, token, String(STREAMS)]), { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const out = p.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const ask = async (cmd: string) => {
    p.stdin.write(`${cmd}\n`);
    p.stdin.flush();
    while (!text.includes("\n")) {
      const { done, value } = await out.read();
      if (done) throw new Error("readers ended");
      text += decoder.decode(value);
    }
    const i = text.indexOf("\n");
    const line = text.slice(0, i);
    text = text.slice(i + 1);
    return JSON.parse(line);
  };
  return {
    async open() {
      const { opened } = (await ask("open")) as { opened: number };
      if (opened !== STREAMS) throw new Error(`only ${opened} of ${STREAMS} streams opened`);
    },
    close: () => ask("close"),
    async stop(): Promise<ReaderSummary> {
      const summary = (await ask("stop")) as ReaderSummary;
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
const pages = startReaders(url);

// ---- 1. rounds ----
interface Round {
  rps: number;
  cpuPerCheckin: number;
  /** The share of the run's wall time the server was on a CPU. */
  busy: number;
  non2xx: number;
}
const rounds: Record<"none" | "pages", Round[]> = { none: [], pages: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const kind of ["none", "pages"] as const) {
    // Let the last checkpoint finish; after streams, let the hub forget the tenant's channel.
    await Bun.sleep(kind === "none" && round > 0 ? LINGER_MS + 2000 : 1500);
    if (kind === "pages") await pages.open();
    const before = cpuMicros(proc.pid);
    const t0 = performance.now();
    const r = await wrk(url, lua, CONNS, SECONDS);
    const used = cpuMicros(proc.pid) - before;
    if (kind === "pages") await pages.close();
    rounds[kind].push({ rps: r.rps, cpuPerCheckin: used / Math.max(1, r.requests), busy: used / ((performance.now() - t0) * 1000), non2xx: r.non2xx });
  }
}

// ---- 2. slices ----
const log = new Database(dbPath, { readonly: true });
const newest = () => log.query<{ n: number | null }, []>("SELECT max(id) AS n FROM checkins").get()!.n ?? 0;
interface Slice {
  rps: number;
  cpuPerCheckin: number;
}
const slices: Record<"none" | "pages", Slice[]> = { none: [], pages: [] };
const long = wrk(url, lua, CONNS, Math.ceil((SLICES * (SLICE_MS + 500)) / 1000) + 3);
await Bun.sleep(1000);
for (let i = 0; i < SLICES; i++) {
  const kind = i % 2 === 0 ? "none" : "pages";
  if (kind === "pages") await pages.open();
  else if (i > 0) await pages.close();
  // Let the change settle (the last window of the other state goes out).
  await Bun.sleep(500);
  const cpu0 = cpuMicros(proc.pid);
  const id0 = newest();
  const t0 = performance.now();
  await Bun.sleep(SLICE_MS);
  const n = newest() - id0;
  slices[kind].push({ rps: n / ((performance.now() - t0) / 1000), cpuPerCheckin: (cpuMicros(proc.pid) - cpu0) / Math.max(1, n) });
}
await pages.close();
const longRun = await long;
const summary = await pages.stop();
log.close();
proc.kill();
await proc.exited;

// ---- report ----
const med = <T>(xs: T[], f: (r: T) => number) => median(xs.map(f));
const pct = (ratio: number) => `${((ratio - 1) * 100).toFixed(1)}%`;
const fmt = (xs: Round[]) => xs.map((r) => `${r.rps.toFixed(0)}/s ${r.cpuPerCheckin.toFixed(1)} µs ${(r.busy * 100).toFixed(0)}% busy`).join(", ");
const rps0 = med(rounds.none, (r) => r.rps);
const rps50 = med(rounds.pages, (r) => r.rps);
const cpu0 = med(rounds.none, (r) => r.cpuPerCheckin);
const cpu50 = med(rounds.pages, (r) => r.cpuPerCheckin);
console.log(`rounds, 0 streams  (${fmt(rounds.none)}): median ${rps0.toFixed(0)} check-ins/s, server CPU ${cpu0.toFixed(1)} µs per check-in`);
console.log(`rounds, ${STREAMS} streams (${fmt(rounds.pages)}): median ${rps50.toFixed(0)} check-ins/s, server CPU ${cpu50.toFixed(1)} µs per check-in`);
console.log(`  throughput ratio ${(rps50 / rps0).toFixed(3)} (cost ${((1 - rps50 / rps0) * 100).toFixed(1)}%)  target >= 0.95: ${verdict(rps50 / rps0 >= 0.95)}`);
console.log(`  CPU per check-in ratio ${(cpu50 / cpu0).toFixed(3)} (cost ${pct(cpu50 / cpu0)})  target <= 1.05: ${verdict(cpu50 / cpu0 <= 1.05)}`);
const pairs = rounds.pages.map((r, i) => r.cpuPerCheckin / rounds.none[i]!.cpuPerCheckin);
console.log(`  pair by pair, CPU per check-in ratios: ${pairs.map((x) => x.toFixed(3)).join(", ")}`);
const srps0 = med(slices.none, (s) => s.rps);
const srps50 = med(slices.pages, (s) => s.rps);
const scpu0 = med(slices.none, (s) => s.cpuPerCheckin);
const scpu50 = med(slices.pages, (s) => s.cpuPerCheckin);
console.log(`slices of ${SLICE_MS / 1000} s in turn (${SLICES / 2} each): 0 streams ${srps0.toFixed(0)}/s ${scpu0.toFixed(1)} µs, ${STREAMS} streams ${srps50.toFixed(0)}/s ${scpu50.toFixed(1)} µs per check-in (medians)`);
console.log(`  throughput ratio ${(srps50 / srps0).toFixed(3)} (cost ${((1 - srps50 / srps0) * 100).toFixed(1)}%)  target >= 0.95: ${verdict(srps50 / srps0 >= 0.95)}`);
console.log(`  CPU per check-in ratio ${(scpu50 / scpu0).toFixed(3)} (cost ${pct(scpu50 / scpu0)})  target <= 1.05: ${verdict(scpu50 / scpu0 <= 1.05)}`);
// About how long the streams were open (each slice with streams includes its half-second settle).
const listened = (ROUNDS * SECONDS + (SLICES / 2) * ((SLICE_MS + 500) / 1000)) * STREAMS;
console.log(
  `  what a page got: about ${(summary.events / listened).toFixed(0)} events/s (${(summary.bytes / listened / 1024).toFixed(0)} KiB/s); ` +
    `check-in to page p50 ${summary.lagP50.toFixed(0)} ms, p99 ${summary.lagP99.toFixed(0)} ms`,
);
const non2xx = [...rounds.none, ...rounds.pages].reduce((n, r) => n + r.non2xx, 0) + longRun.non2xx;
console.log(`  non-2xx answers ${non2xx}, streams dropped by the server ${summary.dropped}: ${verdict(non2xx === 0 && summary.dropped === 0)}`);
