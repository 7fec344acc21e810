// GET /api/v1/events: the tenant's live events as server-sent events (docs/api.md#live-events).
import { textResponse } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { authenticate } from "../auth/authenticate";
import { requireScope, type TenantPrincipal } from "../auth/principal";

const STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  // A reverse proxy (nginx) would otherwise hold the events back to fill its buffer.
  "x-accel-buffering": "no",
};

/** The caller may still listen: the same credentials still name the same tenant with `read`. */
async function stillAllowed(ctx: AppContext, request: Request, p: TenantPrincipal): Promise<boolean> {
  try {
    const { principal } = await authenticate(ctx, request);
    return principal?.tenantId === p.tenantId && principal.scopes.includes("read");
  } catch {
    return false;
  }
}

type Server = { timeout?(request: Request, seconds: number): void } | null | undefined;

export function eventsApi(ctx: AppContext) {
  return apiGroup(ctx, "", "events").get(
    "/events",
    ({ principal, request, server, set }) => {
      const p = requireScope(principal, "read");
      // The stream is idle between events and heartbeats: Bun's idle timeout (10 s) must not end it.
      (server as Server)?.timeout?.(request, 0);
      const stream = ctx.events.subscribe(p.tenantId, request.headers.get("last-event-id"), () => stillAllowed(ctx, request, p));
      return new Response(stream, { headers: { ...(set.headers as Record<string, string>), ...STREAM_HEADERS } });
    },
    {
      detail: {
        summary: "The tenant's live events (server-sent events): job, run and agent changes",
        description:
          "Events `job`, `run`, `agent`, `job-deleted`, `agent-deleted`, `runs-skipped` and `reset`, each with an `id` to resume from (`Last-Event-ID`); a comment every 15 s. See docs/api.md.",
        responses: textResponse(200, "The event stream; it stays open", ["text/event-stream"]),
      },
    },
  );
}
