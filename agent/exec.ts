// `crontopus exec --job <id> -- <command…>`: what a managed crontab entry (or task) runs.
// Reads the job's cache, skips the minutes a superset entry fires on but the job is not due,
// reports the start, runs the command with the job's env, working directory and timeout,
// and reports the result. A report the server does not take is spooled and delivered by the
// agent later with its own timestamps, so a server outage costs no run result and raises no
// false "missed" alert. The command runs whatever happens to the reports.
import { hostname } from "node:os";
import { defaultStateDir, isRoot } from "./paths";
import { DEFAULT_OUTPUT_LIMIT, readJobCache, spool, type JobCache, type SpoolRecord } from "./jobcache";
import type { RunCommand } from "./runner";
import { HeadTail } from "../src/headtail";
import { warn } from "../src/cli/output";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { userInfo } from "node:os";

export interface ExecJobOptions {
  jobId: string;
  stateDir: string | null;
  /** --timeout given on the line: overrides the cached one. */
  timeout: number | null;
  command: string[];
  run: RunCommand;
}

/** Where this user's cache lives when the line does not say (--state-dir). */
function stateDirFor(): string {
  if (process.env.CRONTOPUS_AGENT_STATE_DIR) return process.env.CRONTOPUS_AGENT_STATE_DIR;
  if (!isRoot() && process.platform !== "win32") {
    const mine = join(defaultStateDir(process.env, true), "users", userInfo().username);
    if (existsSync(mine)) return mine;
  }
  return defaultStateDir();
}

/** POSTs one check-in with the job's token; throws on anything but 2xx. */
export async function postCheckin(server: string, token: string, body: SpoolRecord, timeoutMs: number): Promise<void> {
  const res = await fetch(`${server.replace(/\/+$/, "")}/api/v1/checkins`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) {
    const text = await res.text().catch(() => "");
    const err = new Error(`server answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`);
    (err as Error & { status?: number }).status = res.status;
    throw err;
  }
}

/** Sends a record, spooling it when the server cannot take it now (a 4xx other than 429 is final: dropped with a warning). */
async function deliver(cache: JobCache, stateDir: string, record: SpoolRecord, timeoutMs: number): Promise<void> {
  try {
    await postCheckin(cache.server, cache.checkin_token, record, timeoutMs);
  } catch (e) {
    const status = (e as { status?: number }).status;
    if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
      warn(`the server refused the ${record.kind} report: ${(e as Error).message}`);
      return;
    }
    try {
      await spool(stateDir, record);
      warn(`could not report the ${record.kind} (${(e as Error).message}); spooled for the agent to deliver`);
    } catch (se) {
      warn(`could not report the ${record.kind} (${(e as Error).message}) nor spool it (${(se as Error).message})`);
    }
  }
}

export async function execJob(o: ExecJobOptions): Promise<number> {
  const stateDir = o.stateDir ?? stateDirFor();
  const cache = await readJobCache(stateDir, o.jobId);
  if (!cache) {
    // The entry is the agent's, its cache is gone (deleted by hand, or a full disk): run the command anyway.
    warn(`no cache for job ${o.jobId} in ${stateDir}; running the command without reporting`);
    const { exitCode } = await o.run(o.command, o.timeout, { push() {} });
    return exitCode;
  }
  const startedAt = Date.now();
  if (cache.gate) {
    // Loaded only for gated jobs: the schedule parser is the heaviest import exec has.
    const { isDue } = await import("./hostschedule");
    if (!isDue(cache.schedule, cache.timezone, startedAt)) return 0;
  }
  const runId = crypto.randomUUID();
  const host = cache.host || hostname();
  // The start goes out while the command starts: the command never waits for the server.
  const start = deliver(cache, stateDir, { job: cache.job_id, kind: "start", run_id: runId, at: startedAt, host }, 2_000);
  const output = new HeadTail(cache.output_limit || DEFAULT_OUTPUT_LIMIT);
  const { exitCode, note, timedOut } = await o.run(o.command, o.timeout ?? cache.timeout_s, output, {
    env: cache.env,
    cwd: cache.working_dir,
  });
  const ended = Date.now();
  let text = output.text();
  if (note) text = `${text}${text && !text.endsWith("\n") ? "\n" : ""}crontopus: ${note}\n`;
  await start;
  await deliver(
    cache,
    stateDir,
    {
      job: cache.job_id,
      kind: exitCode === 0 ? "success" : "fail",
      run_id: runId,
      at: ended,
      started_at: startedAt,
      duration_ms: ended - startedAt,
      exit_code: exitCode,
      ...(text ? { output: text } : {}),
      ...(timedOut ? { timed_out: true } : {}),
      host,
    },
    10_000,
  );
  return exitCode;
}
