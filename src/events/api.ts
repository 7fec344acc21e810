// GET /api/v1/events: the tenant's live events as server-sent events (docs/api.md#live-events).
import { textResponse } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { requireScope } from "../auth/principal";
import { eventStream } from "./stream";

export function eventsApi(ctx: AppContext) {
  return apiGroup(ctx, "", "events").get(
    "/events",
    ({ principal, request, server, set }) => {
      const p = requireScope(principal, "read");
      return eventStream(ctx, { request, server, tenantId: p.tenantId, lastEventId: request.headers.get("last-event-id"), headers: set.headers as Record<string, string> });
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
