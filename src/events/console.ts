// GET /events: the tenant's live events for the console's pages (public/live.ts; docs/console.md,
// "Live updates"). The same hub and events as the API's GET /api/v1/events, authenticated as the
// console's pages are (the session cookie; a signed-out visitor is sent to the login form, which a
// browser's EventSource takes for a failed stream). Two additions for a page: the stream may start
// where the page was rendered (`?from=`, the position the layout wrote; the Last-Event-ID header
// of a reconnect wins over it), and a `ready` event comes at once, so that the page can tell a
// stream that works from one a proxy holds back.
import type { AppContext } from "../context";
import { requireScope } from "../auth/principal";
import { consoleGroup } from "../console/surface";
import { eventStream } from "./stream";

export function eventsConsole(ctx: AppContext) {
  return consoleGroup(ctx, "tenant").get("/events", ({ request, server, viewer, query }) => {
    const p = requireScope(viewer, "read");
    const from = (query as Record<string, string | undefined>).from || null;
    return eventStream(ctx, { request, server, tenantId: p.tenantId, lastEventId: request.headers.get("last-event-id") ?? from, greet: true });
  });
}
