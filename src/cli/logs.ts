// logs NS/NAME [--follow]: the output of a job's recent runs, oldest first, one header line per
// run; with --follow, new runs are printed as they finish, like tail -f.
import { ApiError, clientCommand, connect, parseJobRef, type Client } from "./client";
import { warn } from "./output";
import { CliError } from "./run";
import { formatMs, formatSecond, parseLimit, runTime } from "./runs";
import type { RunJson, RunPageJson } from "../runs/json";

const FOLLOW_EVERY_MS = 2_000;
/** Runs looked at per page while following; more than this many finishing in one interval is paged through. */
const FOLLOW_PAGE = 100;

/** `=== 2026-11-20 14:03:05 UTC  failed  exit 3  1.2s  run 42` */
export function runHeader(r: RunJson): string {
  const parts = [formatSecond(runTime(r)), r.status];
  if (r.exit_code !== null) parts.push(`exit ${r.exit_code}`);
  if (r.duration_ms !== null) parts.push(formatMs(r.duration_ms));
  parts.push(`run ${r.id}`);
  // The reason, unless it only repeats the exit code ("exit code 2").
  if (r.reason && r.reason !== `exit code ${r.exit_code}`) parts.push(`(${r.reason})`);
  return `=== ${parts.join("  ")}`;
}

function printRun(r: RunJson): void {
  const out = r.output ?? "";
  process.stdout.write(`${runHeader(r)}\n${out}${out && !out.endsWith("\n") ? "\n" : ""}`);
}

/** When a run ended: the order logs prints in (a timed-out start ends long after later starts began). */
const endOf = (r: RunJson) => Date.parse(r.finished_at ?? r.started_at ?? "") || 0;
const byEnd = (a: RunJson, b: RunJson) => endOf(a) - endOf(b) || a.id - b.id;

/** Follows a job's runs: remembers the newest run seen and the runs still open. */
class Follower {
  private newest: number;
  private readonly open = new Set<number>();

  constructor(
    private readonly client: Client,
    private readonly path: string,
    seen: RunJson[],
  ) {
    this.newest = Math.max(0, ...seen.map((r) => r.id));
    for (const r of seen) if (r.status === "running") this.open.add(r.id);
  }

  /** The runs that finished since the last call, in the order they ended, with their output. */
  async poll(): Promise<RunJson[]> {
    const fresh: RunJson[] = [];
    const listed = new Set<number>();
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const query = new URLSearchParams({ limit: String(FOLLOW_PAGE), ...(cursor ? { cursor } : {}) });
      const page: RunPageJson = await this.client.request("GET", `${this.path}/runs?${query}`);
      for (const r of page.runs) {
        listed.add(r.id);
        if (r.id > this.newest || this.open.has(r.id)) fresh.push(r);
      }
      cursor = page.next_cursor;
      if (!cursor || page.runs.some((r) => r.id <= this.newest)) break;
    }
    // An open run that dropped out of the list was either taken over by its finish (a new run,
    // above) or finished long ago in a page we did not read: ask for it.
    for (const id of this.open) {
      if (listed.has(id)) continue;
      try {
        fresh.push(await this.client.request<RunJson>("GET", `/api/v1/runs/${id}`));
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        this.open.delete(id);
      }
    }
    const done: RunJson[] = [];
    for (const r of fresh) {
      this.newest = Math.max(this.newest, r.id);
      if (r.status === "running") this.open.add(r.id);
      else {
        this.open.delete(r.id);
        done.push(r);
      }
    }
    // The list leaves output out (it could be megabytes a poll); fetch it for what we print.
    return Promise.all(done.sort(byEnd).map((r) => (r.output !== undefined ? r : this.client.request<RunJson>("GET", `/api/v1/runs/${r.id}`))));
  }
}

export default clientCommand({
  meta: { name: "logs", description: "Print the output of a job's recent runs, oldest first; --follow for new ones" },
  args: {
    ref: { type: "positional", required: true, description: "NAMESPACE/NAME, or NAME in namespace default", valueHint: "NS/NAME" },
    follow: { type: "boolean", alias: "f", description: "Keep printing runs as they finish, until Ctrl-C" },
    limit: { type: "string", description: "Recent runs to print first, 1-100 (default 10)", valueHint: "N" },
    server: { type: "string", description: "Server URL (CRONTOPUS_URL, else the config file)", valueHint: "URL" },
    token: { type: "string", description: "API token (CRONTOPUS_TOKEN, else the config file)", valueHint: "TOKEN" },
  },
  async run({ args }) {
    const limit = parseLimit(args.limit, 100) ?? 10;
    const ref = parseJobRef(args.ref);
    const client = connect(args);
    const page = await client.request<RunPageJson>("GET", `${ref.path}/runs?output=true&limit=${limit}`);
    for (const r of page.runs.filter((r) => r.status !== "running").sort(byEnd)) printRun(r);
    const running = page.runs.filter((r) => r.status === "running");
    if (!args.follow) {
      if (running.length) process.stderr.write(`${running.length} run(s) still running, the newest since ${formatSecond(runTime(running[0]!))}\n`);
      return;
    }

    const follower = new Follower(client, ref.path, page.runs);
    let lastProblem = "";
    for (;;) {
      await Bun.sleep(FOLLOW_EVERY_MS);
      try {
        for (const r of await follower.poll()) printRun(r);
        lastProblem = "";
      } catch (e) {
        // The job is gone or the token revoked: stop. A server restarting: say so once, keep trying.
        if (e instanceof ApiError && e.status < 500) throw e;
        const message = e instanceof CliError ? e.message : String(e);
        if (message !== lastProblem) warn(`${message}; still trying`);
        lastProblem = message;
      }
    }
  },
});
