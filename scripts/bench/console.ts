// The console's jobs pages under load of data: the list with 10,000 jobs (50 a page, in each order,
// filtered, and pages down a cursor walk) and a job's page with 1,000 runs (start and finish each,
// every tenth a failure, so the log has flips). A live server on CPU 0 (taskset), a signed-in
// session, requests one at a time from this process on loopback: the time is the server's plus
// well under a millisecond of loopback. Target: p95 under 30 ms for each page.
//
//   npm run bench -- console          BENCH_JOBS=2000 for a quick run
import { join } from "node:path";
import { migrate, openDb } from "../../src/db";
import { createUser } from "../../src/auth/identity";
import { createTenant } from "../../src/tenants/tenants";
import { createSessions, SESSION_COOKIE } from "../../src/auth/sessions";
import { listJobLabels, putJob } from "../../src/jobs/jobs";
import { ms, percentile, spawnServer, tempDataDir, verdict } from "./lib";

const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 1_000);
const TARGET_MS = 30;
const SCHEDULES = ["*/5 * * * *", "0 2 * * *", "15 */3 * * 1-5", "@hourly", "@every 10m", "30 4 1 * *", "0 9-17 * * MON-FRI"];
const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"];

const dataDir = tempDataDir();
const db = openDb(join(dataDir, "crontopus.db"));
migrate(db);
const user = await createUser(db, { email: "bench@example.com", password: "bench-password" });
const tenant = createTenant(db, { slug: "bench" }, user.id);
const t0 = performance.now();
const tokens: string[] = [];
db.transaction(() => {
  for (let i = 0; i < JOBS; i++) {
    const { job } = putJob(
      db,
      tenant.id,
      `ns-${String(i % 20).padStart(2, "0")}`,
      `job-${String(i).padStart(5, "0")}`,
      {
        schedule: SCHEDULES[i % SCHEDULES.length],
        timezone: ZONES[i % ZONES.length],
        command: `/opt/job-${i}.sh`,
        labels: { team: `t${i % 7}`, env: i % 3 ? "prod" : "staging" },
      },
      Date.now(),
    );
    tokens.push(job.ping_token);
  }
  putJob(db, tenant.id, "ops", "busy", { schedule: "@every 1m", labels: { team: "t0", env: "prod" } }, Date.now());
})();
const busyToken = db.query<{ ping_token: string }, [string]>("SELECT ping_token FROM jobs WHERE tenant_id = ? AND name = 'busy'").get(tenant.id)!.ping_token;
const { sessionId } = await createSessions(db, { secure: false }).create(user.id, tenant.id);
console.log(`seeded ${JOBS} jobs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
db.close();

const { url, proc } = await spawnServer(dataDir, { cpu: 0 });
const headers = { cookie: `${SESSION_COOKIE}=${sessionId}` };

async function get(path: string): Promise<{ ms: number; html: string }> {
  const t = performance.now();
  const r = await fetch(url + path, { headers, redirect: "manual" });
  const html = await r.text();
  const took = performance.now() - t;
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${html.slice(0, 300)}`);
  return { ms: took, html };
}

function report(name: string, lat: number[], bytes: number): boolean {
  lat.sort((a, b) => a - b);
  const p95 = percentile(lat, 95);
  console.log(`${name}: ${lat.length} requests, ${(bytes / 1024).toFixed(1)} KiB of HTML each`);
  console.log(`  p50 ${ms(percentile(lat, 50))}  p95 ${ms(p95)}  p99 ${ms(percentile(lat, 99))}  max ${ms(lat.at(-1)!)}`);
  console.log(`  target p95 < ${TARGET_MS} ms: ${verdict(p95 < TARGET_MS)} (ratio ${(p95 / TARGET_MS).toFixed(2)} of target)`);
  return p95 < TARGET_MS;
}

try {
  // Life in the list: a thousand jobs heard from, a tenth of them failing; then the busy job's runs.
  const t1 = performance.now();
  for (let i = 0; i < Math.min(JOBS, 1000); i++) await fetch(`${url}/ping/${tokens[(i * 7919) % JOBS]}${i % 10 === 0 ? "/fail" : ""}`);
  for (let i = 0; i < RUNS; i++) {
    await fetch(`${url}/ping/${busyToken}/start`);
    await fetch(`${url}/ping/${busyToken}${i % 10 === 9 ? "/1" : ""}`, { method: "POST", body: `run ${i}\n${"output line\n".repeat(20)}` });
  }
  console.log(`sent ${Math.min(JOBS, 1000)} pings and ${RUNS} runs (${2 * RUNS} check-ins) in ${((performance.now() - t1) / 1000).toFixed(1)} s`);

  // Warm up (JIT, statement caches), then measure.
  for (let i = 0; i < 5; i++) {
    await get("/jobs");
    await get("/jobs/ops/busy");
  }

  const list: number[] = [];
  const groups = new Map<string, number[]>();
  const keep = (group: string, took: number) => {
    list.push(took);
    groups.set(group, [...(groups.get(group) ?? []), took]);
  };
  let listBytes = 0;
  const sorts = ["name", "status", "last_run", "next_run"];
  for (const sort of sorts) {
    for (let i = 0; i < 50; i++) {
      const r = await get(`/jobs?sort=${sort}`);
      keep(`first page, sort=${sort}`, r.ms);
      listBytes = r.html.length;
    }
    // Down a cursor walk: 20 pages deep.
    let path = `/jobs?sort=${sort}`;
    for (let page = 0; page < 20; page++) {
      const r = await get(path);
      keep(`20 pages deep, sort=${sort}`, r.ms);
      const next = /<a href="([^"]+)" rel="next">/.exec(r.html)?.[1];
      if (!next) break;
      path = next.replaceAll("&amp;", "&");
    }
  }
  for (const filter of ["label=team%3Dt3", "status=failed", "q=job-01", "namespace=ns-07&label=env%3Dprod"]) {
    for (let i = 0; i < 25; i++) keep(filter, (await get(`/jobs?${filter}`)).ms);
  }
  const rows = [...(await get("/jobs")).html.matchAll(/<td class="job-name">/g)].length;
  const okList = report(`/jobs (${JOBS} jobs, ${rows} a page, 4 orders, 20 pages deep, 4 filters)`, list, listBytes);
  for (const [group, lat] of groups) {
    lat.sort((a, b) => a - b);
    console.log(`    ${group.padEnd(38)} p50 ${ms(percentile(lat, 50))}  p95 ${ms(percentile(lat, 95))}`);
  }
  // The label chips are reused for 2 s (src/jobs/console.tsx): what one costs when it is not.
  const reader = openDb(join(dataDir, "crontopus.db"));
  const chips: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    listJobLabels(reader, tenant.id);
    chips.push(performance.now() - t);
  }
  reader.close();
  chips.sort((a, b) => a - b);
  console.log(`  the label chips computed afresh (in this process, listJobLabels): p50 ${ms(percentile(chips, 50))}  p95 ${ms(percentile(chips, 95))}`);

  const job: number[] = [];
  let jobBytes = 0;
  for (let i = 0; i < 200; i++) {
    const r = await get("/jobs/ops/busy");
    job.push(r.ms);
    jobBytes = r.html.length;
  }
  const okJob = report(`/jobs/ops/busy (${RUNS} runs)`, job, jobBytes);

  const live: number[] = [];
  for (let i = 0; i < 200; i++) live.push((await get("/jobs/ops/busy/live")).ms);
  live.sort((a, b) => a - b);
  console.log(`/jobs/ops/busy/live (the status poll): p50 ${ms(percentile(live, 50))}  p95 ${ms(percentile(live, 95))}`);
  process.exitCode = okList && okJob ? 0 : 1;
} finally {
  proc.kill();
}
