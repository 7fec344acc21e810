// The agent's footprint on a host. Targets: `exec --job` adds under 50 ms before the command
// starts (next to the same command started directly); an idle `agent run` stays under 60 MB RSS.
//
// exec: the command writes the wall-clock time it started (date +%s%N); we compare it with the
// time we spawned, for `exec --job … -- sh -c …` and for `sh -c …` alone, 30 times each.
// RSS: a real server (its own process), an enrolled agent in a temp config and state dir,
// `agent run --interval 1s` for 10 s, then VmRSS and VmHWM from /proc.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, ms, percentile, spawnServer, tempDataDir, verdict } from "./lib";
import { migrate, openDb } from "../../src/db";
import { createUser } from "../../src/auth/identity";
import { createTenant } from "../../src/tenants/tenants";
import { createEnrollmentToken } from "../../src/agents/agents";

const MAIN = join(ROOT, "src/main.ts");
const BUN = process.execPath;
const RUNS = Number(process.env.BENCH_RUNS ?? 30);

async function startDelay(argv: string[], out: string, env: Record<string, string> = {}): Promise<number> {
  const spawnedAtNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  const p = Bun.spawn(argv, { env: { ...process.env, ...env }, stdout: "ignore", stderr: "inherit" });
  await p.exited;
  const startedNs = BigInt(readFileSync(out, "utf8").trim());
  return Number(startedNs - spawnedAtNs) / 1e6;
}

// --- exec overhead -------------------------------------------------------------------
const dir = tempDataDir();
const stateDir = join(dir, "state");
mkdirSync(join(stateDir, "jobs"), { recursive: true });
const jobId = crypto.randomUUID();
// A server that takes check-ins, so the reports go where they would in production.
const sink = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ ok: true }) });
await Bun.write(
  join(stateDir, "jobs", `${jobId}.json`),
  JSON.stringify({
    job_id: jobId,
    ref: "bench/exec",
    server: `http://127.0.0.1:${sink.port}`,
    checkin_token: "bench",
    env: { BENCH: "1" },
    working_dir: null,
    timeout_s: 60,
    schedule: "* * * * *",
    timezone: "UTC",
    gate: false,
    output_limit: 102400,
    host: "bench",
  }),
);
const out = join(dir, "started");
const shell = ["/bin/sh", "-c", `date +%s%N > ${out}`];
const direct: number[] = [];
const wrapped: number[] = [];
for (let i = 0; i < RUNS + 3; i++) {
  const d = await startDelay(shell, out);
  const w = await startDelay([BUN, MAIN, "exec", "--job", jobId, "--state-dir", stateDir, "--", ...shell], out);
  if (i >= 3) {
    direct.push(d);
    wrapped.push(w);
  }
}
sink.stop(true);
direct.sort((a, b) => a - b);
wrapped.sort((a, b) => a - b);
const overhead = percentile(wrapped, 50) - percentile(direct, 50);
const overhead95 = percentile(wrapped, 95) - percentile(direct, 50);
console.log(`exec --job, command start after spawn (${RUNS} runs): direct p50 ${ms(percentile(direct, 50))}; wrapped p50 ${ms(percentile(wrapped, 50))}, p95 ${ms(percentile(wrapped, 95))}`);
console.log(`  exec adds p50 ${ms(overhead)}, p95 ${ms(overhead95)} (target < 50 ms): ${verdict(overhead95 < 50)}`);

// --- idle RSS --------------------------------------------------------------------------
const serverDir = tempDataDir();
{
  const db = openDb(join(serverDir, "crontopus.db"));
  migrate(db);
  db.close();
}
const server = await spawnServer(serverDir, { env: { CRONTOPUS_AGENT_INTERVAL: "1" } });
const db = openDb(join(serverDir, "crontopus.db"));
const user = await createUser(db, { email: "bench@example.com", password: "bench-password" });
const tenant = createTenant(db, { slug: "bench" }, user.id);
const { token } = createEnrollmentToken(db, tenant.id, user.id, { name: "bench" }, Date.now());
db.close();
const agentEnv = {
  CRONTOPUS_AGENT_CONFIG: join(dir, "agent.json"),
  CRONTOPUS_AGENT_STATE_DIR: join(dir, "agent-state"),
  CRONTOPUS_MACHINE_ID: `bench-${crypto.randomUUID()}`,
};
const enroll = Bun.spawnSync([BUN, MAIN, "agent", "enroll", "--server", server.url, "--token", token, "--name", "bench"], { env: { ...process.env, ...agentEnv } });
if (enroll.exitCode !== 0) throw new Error(`enroll failed: ${enroll.stderr}`);
const agent = Bun.spawn([BUN, MAIN, "agent", "run", "--interval", "1s"], { env: { ...process.env, ...agentEnv }, stdout: "ignore", stderr: "inherit" });
await Bun.sleep(10_000);
const status = readFileSync(`/proc/${agent.pid}/status`, "utf8");
const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
const rss = kb("VmRSS") / 1024;
const hwm = kb("VmHWM") / 1024;
agent.kill();
server.proc.kill();
await agent.exited;
console.log(`idle agent (agent run --interval 1s, 10 passes): RSS ${rss.toFixed(1)} MB, peak ${hwm.toFixed(1)} MB (target < 60 MB): ${verdict(rss < 60)}`);
