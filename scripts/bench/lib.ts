// Shared pieces for benchmarks: a server process on a temp data dir, percentiles, output.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "../..");

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), "crontopus-bench-"));
}

export async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Starts `crontopus serve` as its own process, optionally pinned to one CPU with taskset. */
export async function spawnServer(
  dataDir: string,
  opts: { cpu?: number; env?: Record<string, string>; stderr?: "inherit" | "pipe"; startTimeoutMs?: number } = {},
) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const cmd = [process.execPath, join(ROOT, "src/main.ts"), "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir];
  const proc = Bun.spawn(opts.cpu !== undefined && Bun.which("taskset") ? ["taskset", "-c", String(opts.cpu), ...cmd] : cmd, {
    env: { ...process.env, CRONTOPUS_LOG_LEVEL: "error", CRONTOPUS_BASE_URL: url, ...opts.env },
    stdout: "inherit",
    stderr: opts.stderr ?? "inherit",
  });
  for (let i = 0; i < (opts.startTimeoutMs ?? 10_000) / 50; i++) {
    try {
      if ((await fetch(url + "/health")).ok) return { url, proc, port };
    } catch {}
    await Bun.sleep(50);
  }
  proc.kill();
  throw new Error("server did not start");
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const ms = (x: number) => `${x.toFixed(2)} ms`;

export function verdict(ok: boolean) {
  return ok ? "PASS" : "MISS";
}

/** The median; of an even number of figures, the mean of the middle two. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The run whose rate is nearest the given one (the median run, for its latencies). */
export const nearest = <T extends { rps: number }>(runs: T[], rps: number): T => runs.reduce((a, b) => (Math.abs(b.rps - rps) < Math.abs(a.rps - rps) ? b : a));

/** A command pinned to one CPU with taskset, when there is one. */
export const pin = (cpu: number, cmd: string[]) => (Bun.which("taskset") ? ["taskset", "-c", String(cpu), ...cmd] : cmd);

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

function parseMs(v: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(v)!;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

/** One wrk run on CPU 1 (the servers sit on CPU 0), with its figures. */
export async function wrk(url: string, script: string, conns: number, seconds: number): Promise<WrkResult> {
  const p = Bun.spawn(pin(1, [Bun.which("wrk")!, "-t1", `-c${conns}`, `-d${seconds}s`, "--latency", "-s", script, url]), { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const err = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: parseMs(/\s50%\s+([\d.]+\w+)/.exec(out)?.[1] ?? "0ms"),
    p99: parseMs(/\s99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? "0ms"),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    errors: err ? err.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** A wrk script that POSTs `body` to /ping/<token> for tokens picked at random (the check-in load of checkins.ts). */
export function pingLua(tokens: string[], body: string): string {
  return `local tokens = {${tokens.map((t) => `"${t}"`).join(",")}}
math.randomseed(os.time())
request = function()
  return wrk.format("POST", "/ping/" .. tokens[math.random(#tokens)], {["Content-Type"] = "text/plain"}, "${body}")
end
`;
}

/** `script` paced to about `rate` requests/s over `conns` connections: each waits before its next request. */
export function pacedLua(script: string, conns: number, rate: number, p50Ms: number): string {
  const delayMs = Math.max(1, Math.round((conns / rate) * 1000 - p50Ms));
  return `${script}\nfunction delay() return ${delayMs} end\n`;
}
