// Lists 10,000 jobs a page at a time through a live server and reports p50/p95 per page.
// Target: p95 under 20 ms for a 100-job page on a 2-core machine.
import { join } from "node:path";
import { migrate, openDb } from "../../src/db";
import { createUser } from "../../src/auth/identity";
import { createTenant } from "../../src/tenants/tenants";
import { createApiToken } from "../../src/auth/apitokens";
import { putJob } from "../../src/jobs/jobs";
import { ms, percentile, spawnServer, tempDataDir, verdict } from "./lib";

const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const PAGE = 100;
const SCHEDULES = ["*/5 * * * *", "0 2 * * *", "15 */3 * * 1-5", "@hourly", "@every 10m", "30 4 1 * *", "0 9-17 * * MON-FRI"];
const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"];

const dataDir = tempDataDir();
const db = openDb(join(dataDir, "crontopus.db"));
migrate(db);
const user = await createUser(db, { email: "bench@example.com", password: "bench-password" });
const tenant = createTenant(db, { slug: "bench" }, user.id);
const { token } = createApiToken(db, tenant.id, user.id, { name: "bench" });
const t0 = performance.now();
db.transaction(() => {
  for (let i = 0; i < JOBS; i++) {
    putJob(
      db,
      tenant.id,
      `ns-${i % 20}`,
      `job-${String(i).padStart(5, "0")}`,
      { schedule: SCHEDULES[i % SCHEDULES.length], timezone: ZONES[i % ZONES.length], command: `/opt/job-${i}.sh`, labels: { team: `t${i % 7}` } },
      Date.now(),
    );
  }
})();
console.log(`seeded ${JOBS} jobs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
db.close();

const { url, proc } = await spawnServer(dataDir);
const headers = { authorization: `Bearer ${token}` };
try {
  // Warm up the server (JIT, statement cache), then measure full walks.
  for (let i = 0; i < 3; i++) await fetch(`${url}/api/v1/jobs?limit=${PAGE}`, { headers });
  const lat: number[] = [];
  let listed = 0;
  for (let round = 0; round < 3; round++) {
    let cursor: string | null = null;
    do {
      const q: string = `${url}/api/v1/jobs?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ""}`;
      const t = performance.now();
      const r = await fetch(q, { headers });
      const body = (await r.json()) as { jobs: unknown[]; next_cursor: string | null };
      lat.push(performance.now() - t);
      listed += body.jobs.length;
      cursor = body.next_cursor;
    } while (cursor);
  }
  lat.sort((a, b) => a - b);
  const p95 = percentile(lat, 95);
  console.log(`jobs-api: ${lat.length} pages of ${PAGE} (${listed} jobs listed over 3 walks of ${JOBS})`);
  console.log(`  p50 ${ms(percentile(lat, 50))}  p95 ${ms(p95)}  p99 ${ms(percentile(lat, 99))}  max ${ms(lat.at(-1)!)}`);
  console.log(`  target p95 < 20 ms: ${verdict(p95 < 20)} (ratio ${(p95 / 20).toFixed(2)} of target)`);
} finally {
  proc.kill();
}
