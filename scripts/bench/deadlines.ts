// 1,000,000 jobs, 1,000 of them coming due at once: how long one engine tick takes, and how
// soon after its deadline every due job is flipped and its notification queued.
// Targets: one tick under 50 ms; every due job flipped within 1 s of its deadline.
import { join } from "node:path";
import { migrate, openDb } from "../../src/db";
import { createUser } from "../../src/auth/identity";
import { createTenant } from "../../src/tenants/tenants";
import { Engine } from "../../src/monitor/engine";
import { createChannel } from "../../src/alerts/channels";
import { openSecretBox } from "../../src/secrets";
import { createLogger } from "../../src/log";
import { newId, randomSecret } from "../../src/tokens";
import { ms, tempDataDir, verdict } from "./lib";

const TOTAL = Number(process.env.BENCH_JOBS ?? 1_000_000);
const DUE = 1_000;
const dir = tempDataDir();
const db = openDb(join(dir, "crontopus.db"));
migrate(db);
const user = await createUser(db, { email: "bench@example.com", password: "bench-password" });
const tenant = createTenant(db, { slug: "bench" }, user.id);
createChannel(db, { secrets: openSecretBox(join(dir, "secret.key")), allowPrivateTargets: true }, tenant.id, { name: "hook", type: "webhook", config: { url: "http://127.0.0.1:9/unused" } }, Date.now());

// Bulk rows straight into the table: 1M jobs through the service would take minutes.
const now = Date.now();
const dueAt = now + 1_800_000; // moved to 1.5 s after seeding, below
const t0 = performance.now();
const insert = db.query(
  `INSERT INTO jobs (id, tenant_id, namespace, name, schedule, timezone, grace_s, ping_token, created_at, updated_at, status, status_since, expected_at, next_deadline)
   VALUES (?, ?, 'default', ?, '@every 1h', 'UTC', 300, ?, ?, ?, 'late', ?, ?, ?)`,
);
db.transaction(() => {
  for (let i = 0; i < TOTAL; i++) {
    // DUE jobs fall due together; the rest have deadlines spread over the next day.
    const deadline = i < DUE ? dueAt : now + 3_600_000 + (i % 86_400) * 1000;
    insert.run(newId(), tenant.id, `job-${i}`, randomSecret(18), now, now, now, deadline - 300_000, deadline);
  }
})();
console.log(`seeded ${TOTAL} jobs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const engine = new Engine({ db, log: createLogger("error"), baseUrl: "http://localhost:8080", now: Date.now });
engine.tick(now); // warm up statements
// An idle tick with nothing due: what every tick costs at 1M jobs.
const idle: number[] = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  engine.tick(now);
  idle.push(performance.now() - t);
}
idle.sort((a, b) => a - b);

// Seeding took a while: the due jobs fall due 1.5 s from now.
const dueAt2 = Date.now() + 1_500;
db.query("UPDATE jobs SET next_deadline = ?, expected_at = ? WHERE next_deadline = ?").run(dueAt2, dueAt2 - 300_000, dueAt);
// Tick the way the server does (every 100 ms) until the due jobs are done.
while (Date.now() < dueAt2) await Bun.sleep(5);
let flipped = 0;
let worstTick = 0;
let doneAt = 0;
while (flipped < DUE) {
  const t = performance.now();
  const stats = engine.tick();
  const took = performance.now() - t;
  worstTick = Math.max(worstTick, took);
  flipped += stats.flips;
  if (flipped >= DUE) doneAt = Date.now();
  else await Bun.sleep(100);
}
const queued = db.query<{ n: number }, []>("SELECT count(*) AS n FROM notifications").get()!.n;
console.log(`deadlines: ${TOTAL} jobs, ${DUE} due at once`);
console.log(`  idle tick p50 ${ms(idle[10]!)}  max ${ms(idle.at(-1)!)}`);
console.log(`  the tick that flipped ${DUE} jobs (down + ${queued} notifications queued): ${ms(worstTick)}  target < 50 ms: ${verdict(worstTick < 50)}`);
console.log(`  all flipped ${doneAt - dueAt2} ms after their deadline  target < 1000 ms: ${verdict(doneAt - dueAt2 < 1000)}`);
db.close();
