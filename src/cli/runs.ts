// runs list | get: a job's history as the runs API keeps it (a run is a finish, paired with its
// start when there was one, or a start still running or timed out).
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect } from "./client";
import { printFields, printJson, printTable } from "./output";
import { UsageError } from "./run";
import { choiceFlag } from "./args";
import type { RunJson, RunPageJson } from "../runs/json";

/** A duration for people: 350ms, 4.2s, 1m05s, 2h03m, 3d4h. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor(s / 3600) % 24}h`;
}

/** A timestamp to the second: runs a minute apart must be told apart. */
export function formatSecond(t: string | null | undefined): string {
  if (!t) return "-";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().slice(0, 19).replace("T", " ") + " UTC";
}

/** When a run began, or, for a finish that came without a start, when it ended. */
export const runTime = (r: RunJson) => r.started_at ?? r.finished_at;

/** `--since 2h` (that long ago) or a time the server reads (ISO 8601). */
async function sinceParam(value: string, now = Date.now()): Promise<string> {
  if (!/^\d+[dhms]/i.test(value)) {
    if (Number.isNaN(Date.parse(value))) throw new UsageError(`--since: expected a duration such as 2h or a time such as 2026-11-20T14:00:00Z, got "${value}"`);
    return value;
  }
  const { parseDuration } = await import("../jobs/schedule");
  try {
    return new Date(now - parseDuration("--since", value) * 1000).toISOString();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function parseLimit(value: string | undefined, max = 500): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 1 && n <= max)) throw new UsageError(`--limit: expected a whole number from 1 to ${max}`);
  return n;
}

const list = clientCommand({
  meta: { name: "list", description: "List runs, newest first" },
  args: {
    job: { type: "string", description: "Only this job: NAMESPACE/NAME, NAME (namespace default) or its id", valueHint: "NS/NAME" },
    status: { type: "string", description: "Only this status: running, success, failed, timeout" },
    since: { type: "string", description: "Only runs since this time (ISO 8601) or this long ago (30m, 2h, 7d)", valueHint: "TIME" },
    limit: { type: "string", description: "Runs to show, 1-500 (default 50)", valueHint: "N" },
    ...clientArgs,
  },
  async run({ args }) {
    const limit = parseLimit(args.limit);
    const query = new URLSearchParams();
    if (args.job) query.set("job", args.job);
    if (args.status) query.set("status", choiceFlag("--status", args.status, (await import("../runs/runs")).RUN_STATUSES));
    if (args.since) query.set("since", await sinceParam(args.since));
    if (limit !== undefined) query.set("limit", String(limit));
    const page = await connect(args).request<RunPageJson>("GET", `/api/v1/runs?${query}`);
    if (args.json) return printJson(page);
    printTable(
      ["STARTED", "JOB", "STATUS", "EXIT", "DURATION", "RUN ID"],
      page.runs.map((r) => [formatSecond(runTime(r)), r.job, r.status, r.exit_code, formatMs(r.duration_ms), r.id]),
    );
    if (page.next_cursor) process.stderr.write("more runs follow: pass a larger --limit or a later --since\n");
  },
});

const get = clientCommand({
  meta: { name: "get", description: "Show one run and its output" },
  args: {
    id: { type: "positional", required: true, description: "The run's id, from runs list", valueHint: "ID" },
    ...clientArgs,
  },
  async run({ args }) {
    if (!/^\d+$/.test(args.id)) throw new UsageError(`expected a run id from 'crontopus runs list' (a number), got "${args.id}"`);
    const run = await connect(args).request<RunJson>("GET", `/api/v1/runs/${args.id}`);
    if (args.json) return printJson(run);
    printFields([
      ["run", run.id],
      ["job", run.job],
      ["status", run.status],
      ["reason", run.reason],
      ["exit code", run.exit_code],
      ["started", formatSecond(run.started_at)],
      ["finished", formatSecond(run.finished_at)],
      ["duration", formatMs(run.duration_ms)],
      ["rid", run.run_id],
      ["source", run.source],
    ]);
    if (!run.output) return console.log("\n(no output)");
    console.log(`\n--- output${run.output_truncated ? " (truncated by the server)" : ""} ---`);
    process.stdout.write(run.output.endsWith("\n") ? run.output : `${run.output}\n`);
  },
});

export default defineCommand({
  meta: { name: "runs", description: "List runs and show one with its output" },
  subCommands: { list, get },
});
