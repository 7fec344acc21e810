// GET /metrics (operator or tenant view) and the public status badges.
import { Elysia, t } from "elysia";
import { textResponse } from "../openapi";
import type { AppContext } from "../context";
import { authenticate } from "../auth/authenticate";
import { requireScope } from "../auth/principal";
import { BADGE_COLORS, badgeEndpointJson, findJobBadge, findLabelBadge, renderBadge, type Badge } from "./badge";
import { EXPOSITION_CONTENT_TYPE, isMetricsToken, operatorMetrics, tenantMetrics, type EngineTotals } from "./metrics";

/** Figures that live outside the app context: the engine is started by startServer. */
export interface MetricsSources {
  engine?: { readonly totals: EngineTotals } | null;
}

const exposition = (body: string) => new Response(body, { headers: { "content-type": EXPOSITION_CONTENT_TYPE } });

const BADGE_HEADERS = {
  // Badges are embedded by other sites (and proxied by GitHub's camo): never serve a stale status.
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
};

// The same answer for a wrong key, a missing job and a malformed path, so a badge URL tells
// nothing about which keys or jobs exist.
const notFound = () =>
  new Response("not found\n", { status: 404, headers: { ...BADGE_HEADERS, "content-type": "text/plain; charset=utf-8" } });

/** "nightly.svg" -> ["nightly", "svg"]; null for any other extension. */
function splitFile(file: string): [string, "svg" | "json"] | null {
  const m = /^(.+)\.(svg|json)$/.exec(file);
  return m ? [m[1]!, m[2] as "svg" | "json"] : null;
}

/** The badge a file name asks for ("nightly.svg"): `find` looks it up by the name without its extension. */
function badgeFor(file: string, find: (name: string) => Badge | null): Response {
  const split = splitFile(file);
  return split ? badgeResponse(find(split[0]), split[1]) : notFound();
}

function badgeResponse(badge: Badge | null, format: "svg" | "json"): Response {
  if (!badge) return notFound();
  if (format === "json") return Response.json(badgeEndpointJson(badge), { headers: BADGE_HEADERS });
  return new Response(renderBadge(badge.label, badge.status, BADGE_COLORS[badge.status].hex), {
    headers: { ...BADGE_HEADERS, "content-type": "image/svg+xml; charset=utf-8", "content-security-policy": "default-src 'none'; frame-ancestors 'none'" },
  });
}

const badgeAnswers: Record<string, any> = {
  200: {
    description: "The badge: SVG for `<name>.svg`, shields.io endpoint JSON for `<name>.json`",
    content: {
      "image/svg+xml": { schema: { type: "string" } },
      "application/json": { schema: t.Object({ schemaVersion: t.Integer(), label: t.String(), message: t.String(), color: t.String() }) },
    },
  },
  404: { description: "No such key, job or label (the same answer for each)", content: { "text/plain": { schema: { type: "string" } } } },
};

export function metricsApi(ctx: AppContext, sources: MetricsSources = {}) {
  const { db } = ctx;
  return new Elysia()
    .get(
      "/metrics",
      async ({ request, server }) => {
        if (isMetricsToken(ctx.config.metricsToken, request.headers.get("authorization"))) {
          return exposition(
            operatorMetrics(db, { writer: ctx.checkins, engine: sources.engine?.totals, pendingRequests: server?.pendingRequests }),
          );
        }
        const { principal } = await authenticate(ctx, request);
        return exposition(tenantMetrics(db, requireScope(principal, "read").tenantId, ctx.now()));
      },
      {
        detail: {
          tags: ["system"],
          summary: "Prometheus metrics: the whole server with the metrics token, the tenant's jobs with an API token (read)",
          responses: textResponse(200, "Prometheus text exposition", ["text/plain"], { 401: { $ref: "#/components/responses/E401" } }),
        },
      },
    )
    .get(
      "/badge/:key/:namespace/:file",
      ({ params }) => badgeFor(params.file, (name) => findJobBadge(db, params.key, params.namespace, name)),
      { detail: { tags: ["badges"], summary: "A job's status badge (.svg, or .json for shields.io)", security: [], responses: badgeAnswers } },
    )
    .get(
      "/badge/:key/label/:label/:file",
      ({ params }) => badgeFor(params.file, (name) => findLabelBadge(db, params.key, params.label, name)),
      { detail: { tags: ["badges"], summary: "The worst status of the jobs with a label (.svg, or .json for shields.io)", security: [], responses: badgeAnswers } },
    )
    .get("/badge/*", () => notFound(), { detail: { hide: true } });
}
