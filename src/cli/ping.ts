// ping <ping-url|token> [start|success|fail|log|<code>]: one check-in from a shell, like curl on
// the ping URL but with retries, a body from a file and one-line errors. sendPing is also what
// `exec` reports through. Kept light: `exec` loads this module on every cron run.
import { clientCommand, connect } from "./client";
import { fail, UsageError } from "./run";
import { VERSION } from "../version";

/** A check-in kind as the ping URL's last path segment: "" for success, "start", "fail", "log" or an exit code. */
export function pingSuffix(kind: string): string {
  if (kind === "success") return "";
  if (kind === "start" || kind === "fail" || kind === "log") return kind;
  if (/^\d{1,3}$/.test(kind) && Number(kind) <= 255) return String(Number(kind));
  throw new UsageError(`expected start, success, fail, log or an exit code from 0 to 255, got "${kind}"`);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The ping URL for one check-in: `base` plus the kind's suffix and `?rid=` (other query parameters are kept). */
export function pingUrlFor(base: string, suffix: string, runId?: string): string {
  const url = new URL(base);
  if (suffix) url.pathname = `${url.pathname.replace(/\/+$/, "")}/${suffix}`;
  if (runId) url.searchParams.set("rid", runId);
  return url.toString();
}

/** Checks a ping URL given on the command line. */
export function checkPingUrl(raw: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${flag}: not a URL: ${raw}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${flag}: expected an http(s) URL, got ${raw}`);
  return raw;
}

export interface PingOptions {
  body?: string | Uint8Array<ArrayBuffer>;
  /** Per attempt. */
  timeoutMs?: number;
  tries?: number;
}

const BACKOFF_MS = [250, 1000];

/**
 * Sends one check-in, retrying network errors and 5xx answers with a short backoff. Returns
 * normally only for a 200 or 201; otherwise throws an Error whose message is one line, fit for
 * `error: …` or `warning: …`, that never shows the URL's token.
 */
export async function sendPing(url: string, { body, timeoutMs = 10_000, tries = 3 }: PingOptions = {}): Promise<void> {
  const origin = new URL(url).origin;
  let problem = "";
  for (let attempt = 1; attempt <= tries; attempt++) {
    if (attempt > 1) await Bun.sleep(BACKOFF_MS[attempt - 2] ?? BACKOFF_MS.at(-1)!);
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        body,
        headers: { "user-agent": `crontopus/${VERSION}`, ...(body !== undefined ? { "content-type": "text/plain; charset=utf-8" } : {}) },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "manual",
      });
    } catch (e) {
      const name = (e as Error)?.name;
      problem =
        name === "TimeoutError" || name === "AbortError"
          ? `no answer from the Crontopus server at ${origin} within ${timeoutMs / 1000}s`
          : `cannot reach the Crontopus server at ${origin}`;
      continue;
    }
    const text = (await res.text().catch(() => "")).trim().split("\n")[0]!.slice(0, 200);
    if (res.status === 200 || res.status === 201) return;
    if (res.status >= 500) {
      problem = `the server at ${origin} answered ${res.status}${text ? `: ${text}` : ""}`;
      continue;
    }
    if (res.status === 404) throw new Error(`the server at ${origin} knows no job with this ping URL (404)`);
    if (res.status === 429) {
      const after = res.headers.get("retry-after");
      throw new Error(`the server at ${origin} refused the ping: rate limited (429)${after ? `; retry in ${after}s` : ""}`);
    }
    throw new Error(`the server at ${origin} refused the ping: ${text || res.statusText || "no reason given"} (${res.status})`);
  }
  throw new Error(tries > 1 ? `${problem} (${tries} tries)` : problem);
}

async function readBody(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return path === "-" ? new Uint8Array(await Bun.stdin.arrayBuffer()) : await Bun.file(path).bytes();
  } catch {
    fail(`cannot read ${path}`);
  }
}

export default clientCommand({
  meta: { name: "ping", description: "Send one check-in to a job's ping URL (success unless a kind is given)" },
  args: {
    target: { type: "positional", required: true, description: "The job's ping URL, or its ping token with --server", valueHint: "URL|TOKEN" },
    kind: { type: "positional", required: false, description: "start, success (default), fail, log, or an exit code 0-255", valueHint: "KIND" },
    "body-file": { type: "string", description: "Send this file's content as the run's output; - for stdin", valueHint: "PATH" },
    "run-id": { type: "string", description: "UUID pairing a start with its finish (?rid=)", valueHint: "UUID" },
    server: { type: "string", description: "Server URL for a bare token (CRONTOPUS_URL, else the config file)", valueHint: "URL" },
  },
  async run({ args }) {
    const suffix = pingSuffix(args.kind ?? "success");
    const runId = args["run-id"];
    if (runId !== undefined && !UUID_RE.test(runId)) throw new UsageError(`--run-id: expected a UUID, got "${runId}"`);
    const base = /^https?:\/\//i.test(args.target)
      ? checkPingUrl(args.target, "ping URL")
      : `${connect({ server: args.server }, { needToken: false }).server}/ping/${args.target.split("/").map(encodeURIComponent).join("/")}`;
    const body = args["body-file"] !== undefined ? await readBody(args["body-file"]) : undefined;
    try {
      await sendPing(pingUrlFor(base, suffix, runId), { body });
    } catch (e) {
      fail((e as Error).message);
    }
  },
});
