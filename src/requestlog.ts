// The request log: one line per request with its id, method, route, status, latency and tenant.
// The route is the pattern (`/api/v1/jobs/:namespace/:name`), never the URL: ping tokens,
// invitation tokens and setup links travel in URLs. Machine traffic that comes in volume
// (pings, /health probes) is summarised instead: one line per route and interval, with counts
// by status, so the log does not grow with every ping.
import { Elysia } from "elysia";
import type { Logger } from "./log";
import { newId } from "./tokens";

/** Routes counted, not logged one by one. */
export const SUMMARISED_ROUTES: ReadonlySet<string> = new Set(["/ping/*", "/health"]);
/** How often a summary line is written (when anything was counted). */
export const SUMMARY_INTERVAL_MS = 60_000;

interface Tally {
  count: number;
  statuses: Record<string, number>;
  totalMs: number;
  maxMs: number;
}

/** What the hooks keep of a request between its start and its end. */
interface Pending {
  id: string;
  start: number;
  status?: number;
  /** When the answer was ready (the request line is written a turn of the event loop later). */
  end?: number;
  /** Elysia's context: the matched route and the resolved caller land on it. */
  c: { route?: string; principal?: { tenantSlug?: string | null } | null; viewer?: { tenantSlug?: string | null } | null };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export class RequestLog {
  private readonly pending = new WeakMap<Request, Pending>();
  private tallies = new Map<string, Tally>();
  private since = performance.now();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly log: Logger,
    opts: { summaryMs?: number } = {},
  ) {
    this.timer = setInterval(() => this.flush(), opts.summaryMs ?? SUMMARY_INTERVAL_MS);
    this.timer.unref?.();
  }

  /** The id of a request in flight (quoted by a 500's message), if the hooks saw it. */
  idOf(request: Request): string | undefined {
    return this.pending.get(request)?.id;
  }

  /** The route pattern a request in flight matched, if any. */
  routeOf(request: Request): string | undefined {
    return this.pending.get(request)?.c.route;
  }

  /** The hooks every Elysia route passes through; mount first. */
  hooks() {
    return (
      new Elysia({ name: "request-log" })
        .onRequest((c) => {
          this.pending.set(c.request, { id: newId(), start: performance.now(), c: c as Pending["c"] });
        })
        // The status as sent: an error page's Response, a `status()` answer or set.status.
        .mapResponse({ as: "global" }, (c) => {
          const p = this.pending.get(c.request);
          if (!p) return;
          p.status = statusOf(c.responseValue, c.set.status);
          p.end = performance.now();
        })
        .onAfterResponse({ as: "global" }, (c) => {
          const p = this.pending.get(c.request);
          if (!p) return;
          this.pending.delete(c.request);
          // Unmatched routes never reach mapResponse; they are answered 404.
          const status = p.status ?? ((c as { code?: unknown }).code === "NOT_FOUND" ? 404 : statusOf(undefined, c.set.status));
          this.record(c.request.method, p.c.route, status, (p.end ?? performance.now()) - p.start, p.id, p.c.principal?.tenantSlug ?? p.c.viewer?.tenantSlug ?? null);
        })
    );
  }

  /** A Bun route handler (the pings' fast path) counted like the summarised Elysia routes. */
  counted<A extends unknown[]>(route: string, handler: (req: Request, ...rest: A) => Promise<Response>) {
    // Not an async wrapper: Bun is handed the handler's own promise, and the count rides on a
    // reaction of it. An async function around it cost the ping path about 1 µs a request.
    const tally = (res: Response, start: number) => this.tally(route, res.status, performance.now() - start);
    return (req: Request, ...rest: A): Promise<Response> => {
      const start = performance.now();
      const answer = handler(req, ...rest);
      answer.then((res) => tally(res, start), () => {});
      return answer;
    };
  }

  private record(method: string, route: string | undefined, status: number, ms: number, id: string, tenant: string | null): void {
    if (route && SUMMARISED_ROUTES.has(route)) return this.tally(route, status, ms);
    const fields = { request_id: id, method, route: route ?? "(unmatched)", status, ms: round(ms), tenant: tenant ?? undefined };
    if (status >= 500) this.log.warn("request", fields);
    else this.log.info("request", fields);
  }

  private tally(route: string, status: number, ms: number): void {
    let t = this.tallies.get(route);
    if (!t) this.tallies.set(route, (t = { count: 0, statuses: {}, totalMs: 0, maxMs: 0 }));
    t.count++;
    t.statuses[status] = (t.statuses[status] ?? 0) + 1;
    t.totalMs += ms;
    if (ms > t.maxMs) t.maxMs = ms;
  }

  /** Writes one summary line per route counted since the last one. */
  flush(): void {
    const now = performance.now();
    const seconds = Math.max(1, Math.round((now - this.since) / 1000));
    this.since = now;
    const tallies = this.tallies;
    if (tallies.size === 0) return;
    this.tallies = new Map();
    for (const [route, t] of tallies) {
      this.log.info("requests", { route, seconds, count: t.count, statuses: t.statuses, ms_avg: round(t.totalMs / t.count), ms_max: round(t.maxMs) });
    }
  }

  /** Stops the timer and writes what was counted since the last summary. */
  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

function statusOf(value: unknown, fallback: unknown): number {
  if (value instanceof Response) return value.status;
  // Elysia's status(409, …) answer.
  const code = (value as { code?: unknown } | null)?.code;
  if (typeof code === "number" && typeof value === "object" && "response" in value!) return code;
  if (typeof fallback === "number") return fallback;
  return 200;
}
