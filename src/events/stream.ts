// A tenant's event stream as an HTTP answer, for both surfaces that serve one: the API's
// GET /api/v1/events (src/events/api.ts) and the console's GET /events (src/events/console.ts).
// Both subscribe to the same hub (ctx.events); they differ in how the caller is authenticated.
import type { AppContext } from "../context";
import { authenticate } from "../auth/authenticate";
import type { StillAllowed } from "./hub";

const STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  // A reverse proxy (nginx) would otherwise hold the events back to fill its buffer.
  "x-accel-buffering": "no",
};

type Server = { timeout?(request: Request, seconds: number): void } | null | undefined;

/** The caller may still listen: the same credentials (token or session cookie) still name the same tenant with `read`. */
export function sameCaller(ctx: AppContext, request: Request, tenantId: string): StillAllowed {
  return async () => {
    try {
      const { principal } = await authenticate(ctx, request);
      return principal?.tenantId === tenantId && principal.scopes.includes("read");
    } catch {
      return false;
    }
  };
}

export function eventStream(
  ctx: AppContext,
  opts: { request: Request; server: unknown; tenantId: string; lastEventId: string | null; headers?: Record<string, string>; greet?: boolean },
): Response {
  // The stream is idle between events and heartbeats: Bun's idle timeout (10 s) must not end it.
  (opts.server as Server)?.timeout?.(opts.request, 0);
  const stream = ctx.events.subscribe(opts.tenantId, opts.lastEventId, sameCaller(ctx, opts.request, opts.tenantId), { greet: opts.greet });
  return new Response(stream, { headers: { ...opts.headers, ...STREAM_HEADERS } });
}
