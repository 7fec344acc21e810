// The agent's crontab sync with 1,000 managed jobs, as `agent run` does it every interval:
// read the crontab through the real crontab binary, reconcile(), install when it changed.
// Measured when nothing changed (read + reconcile) and when all 1,000 jobs changed (read +
// reconcile + install), over 20 passes each.
// Target: a sync of 1,000 jobs under 300 ms (p95 of both).
//
// As root it uses the crontab of a system user of its own, crontopus-bench (created if missing,
// its crontab removed at the end); otherwise the current user's, put back as it was at the end.
import { spawnSync } from "node:child_process";
import { reconcile, type DesiredEntry } from "../../agent/crontab";
import { currentUser, detectHostCron, SystemCrontab } from "../../agent/host";
import { ms, percentile, verdict } from "./lib";

const JOBS = 1_000;
const PASSES = 20;
const TARGET_MS = 300;
const BENCH_USER = "crontopus-bench";

if (!Bun.which("crontab")) {
  console.log("reconcile: skipped, the crontab binary is not installed (apt-get install cron)");
  process.exit(0);
}
const isRoot = process.getuid?.() === 0;
if (isRoot && spawnSync("id", ["-u", BENCH_USER]).status !== 0) {
  const r = spawnSync("useradd", ["-M", "-r", "-s", "/usr/sbin/nologin", BENCH_USER], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`useradd ${BENCH_USER}: ${r.stderr}`);
}
const user = isRoot ? BENCH_USER : currentUser();
const io = new SystemCrontab();
const host = await detectHostCron();

// Jobs mostly on the host's clock; a quarter in other zones, which a cron without CRON_TZ
// needs the slower superset schedules for (agent/crontab.ts).
const ZONES = [host.timezone, host.timezone, host.timezone, "America/New_York", host.timezone, host.timezone, host.timezone, "Asia/Kolkata"];

// Two desired sets that differ in every job's schedule, so switching between them changes all lines.
function desiredSet(minute: number): DesiredEntry[] {
  return Array.from({ length: JOBS }, (_, i) => {
    const jobId = `0192f0c4-0000-7000-8000-${String(i).padStart(12, "0")}`;
    return {
      jobId,
      ref: `bench/job-${String(i).padStart(4, "0")}`,
      schedule: `${(minute + i) % 60} ${i % 24} * * *`,
      timezone: ZONES[i % ZONES.length]!,
      command: `/usr/local/bin/crontopus exec --job ${jobId} -- /opt/bench/run.sh --n ${i} > /dev/null 2>&1`,
      paused: i % 10 === 9,
    };
  });
}
const sets = [desiredSet(0), desiredSet(7)];
// The user's own lines above the section, as on a real host.
const userLines = "# m h  dom mon dow   command\nMAILTO=ops@example.com\n0 5 * * * /usr/bin/nightly-report\n";

/** One sync: read, reconcile, install when changed. Returns the time of each part in ms. */
async function sync(desired: DesiredEntry[]) {
  const t0 = performance.now();
  const current = (await io.read(user)) ?? "";
  const t1 = performance.now();
  const result = reconcile(current, desired, host);
  const t2 = performance.now();
  if (result.changed) await io.install(result.text, user);
  const t3 = performance.now();
  return { total: t3 - t0, read: t1 - t0, reconcile: t2 - t1, install: t3 - t2, changed: result.changed };
}

const original = await io.read(user);
try {
  await io.install(userLines, user);
  // The first sync writes the section, with cold caches (each zone's offset changes are
  // computed once per agent process).
  const cold = await sync(sets[0]!);

  const same: number[] = [];
  for (let i = 0; i < PASSES; i++) {
    const s = await sync(sets[0]!);
    if (s.changed) throw new Error("a sync with nothing changed rewrote the crontab");
    same.push(s.total);
  }

  const changed: number[] = [];
  const parts = { read: [] as number[], reconcile: [] as number[], install: [] as number[] };
  for (let i = 0; i < PASSES; i++) {
    const s = await sync(sets[(i + 1) % 2]!);
    if (!s.changed) throw new Error("a sync with every job changed did not rewrite the crontab");
    changed.push(s.total);
    parts.read.push(s.read);
    parts.reconcile.push(s.reconcile);
    parts.install.push(s.install);
  }

  for (const xs of [same, changed, parts.read, parts.reconcile, parts.install]) xs.sort((a, b) => a - b);
  const lines = ((await io.read(user)) ?? "").split("\n").length - 1;
  const worst = Math.max(percentile(same, 95), percentile(changed, 95));
  console.log(`reconcile: ${JOBS} managed jobs (${lines} crontab lines) for ${user}, ${host.flavor ?? "unknown"} cron in ${host.timezone}, ${PASSES} passes each`);
  console.log(`  ${"first sync after start (cold caches)".padEnd(48)} ${ms(cold.total)}`);
  const row = (label: string, xs: number[]) => console.log(`  ${label.padEnd(48)} p50 ${ms(percentile(xs, 50))}  p95 ${ms(percentile(xs, 95))}`);
  row("nothing changed (read + reconcile)", same);
  row(`all ${JOBS} changed (read + reconcile + install)`, changed);
  row("  of which read", parts.read);
  row("  of which reconcile", parts.reconcile);
  row("  of which install", parts.install);
  console.log(`  sync of ${JOBS} jobs  target < ${TARGET_MS} ms (p95): ${verdict(worst < TARGET_MS)}`);
} finally {
  // Leave the crontab as it was.
  if (original === null) await io.remove(user);
  else await io.install(original, user);
}
