// The API document (/api/openapi.json) and its Swagger UI page (/api/docs).
// Routes describe themselves (body, query and params schemas, `detail.responses`); this file
// adds what every operation shares (the error answers), states what Elysia's generator gets
// wrong for this app, and serves both from this server only (no CDN: it works offline).
import { Elysia, t, type AnyElysia, type TSchema } from "elysia";
import { toOpenAPISchema } from "@elysiajs/openapi";
import swaggerInit from "./swagger-init.js" with { type: "file" };
import { addPublicFile } from "./assets";
import { VERSION } from "./version";

addPublicFile("swagger-init.js", swaggerInit, "text/javascript; charset=utf-8");

type Json = Record<string, any>;

/** The one error shape of the API, `{"error": {code, message, details?}}`. */
export const ErrorSchema = t.Object(
  {
    error: t.Object({
      code: t.String({ description: "validation_failed, not_found, unauthorized, forbidden, conflict, rate_limited, …" }),
      message: t.String({ description: "For people; starts with the field at fault, e.g. `schedule: …`" }),
      details: t.Optional(t.Array(t.Object({ field: t.String(), message: t.String() }))),
    }),
  },
  { title: "Error" },
);

const ERROR_DESCRIPTIONS: Record<string, string> = {
  "400": "The request is malformed",
  "401": "No valid token or session",
  "403": "The token or role may not do this",
  "404": "Not found (or not visible to you)",
  "409": "Conflicts with what is stored",
  "413": "The body is too large",
  "415": "The body's Content-Type is not accepted",
  "422": "A field is invalid; the message names it",
  "429": "Too many requests; see Retry-After",
  "502": "A remote the server reached for (a Git fetch) failed; the message gives its words",
  "503": "Storage is unavailable; retry later",
};

const TAGS: Record<string, string> = {
  auth: "Logging in, who you are, your API tokens",
  tenants: "Tenants, their settings and members",
  jobs: "Jobs and namespaces (docs/job-manifest.md)",
  checkins: "Check-ins sent through the API",
  pings: "The ping URLs cron jobs call (docs/checkins.md)",
  runs: "Run history and status changes",
  channels: "Alert channels and their deliveries (docs/alerts.md)",
  agents: "Enrolled agents, enrollment tokens, installers",
  "agent protocol": "What the agent calls, with its own token (docs/agent-protocol.md)",
  badges: "Status badges, public by their key",
  gitops: "A Git repository as the source of the tenant's jobs: settings, syncs, plans, the push webhook (docs/gitops.md)",
  system: "Health and metrics",
};

const json = (schema: TSchema | Json) => ({ "application/json": { schema } });

/**
 * `detail.responses` for a route: its success answer and the error answers beyond the usual
 * ones (401/403 when authenticated, 404 with path parameters, 422 with input: added for all).
 * `schema` null: no body (204).
 */
export function responses(status: number, description: string, schema: TSchema | Json | null, errors: number[] = []): Json {
  const out: Json = { [status]: schema === null ? { description } : { description, content: json(schema) } };
  for (const e of errors) out[e] = { $ref: `#/components/responses/E${e}` };
  return out;
}

/** A success answer that is not JSON (text, SVG, a script). */
export function textResponse(status: number, description: string, types: string[], extra: Json = {}): Json {
  return { [status]: { description, content: Object.fromEntries(types.map((ty) => [ty, { schema: { type: "string" } }])) }, ...extra };
}

/** `{ ok: true }`, the answer of actions that return nothing else. */
export const OkSchema = t.Object({ ok: t.Boolean() });

/**
 * Elysia reads numbers and booleans from text by turning `t.Integer()` into "an integer, or a
 * string that reads as one"; the document says what the value means: an integer.
 */
function uncoerce(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(uncoerce);
  if (!node || typeof node !== "object") return node;
  const o = node as Json;
  const b = o.anyOf;
  if (Array.isArray(b) && b.length === 2) {
    const text = b.find((x: Json) => x?.type === "string" && ["integer", "numeric", "number", "boolean"].includes(x.format));
    const typed = b.find((x: Json) => x !== text);
    if (text && typed) {
      const { anyOf: _a, default: d, ...rest } = o;
      return uncoerce({ ...rest, ...typed, ...(d !== undefined ? { default: d } : {}) });
    }
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, uncoerce(v)]));
}

/** Elysia's generator, finished: JSON bodies only, error answers on every operation, no trailing slashes. */
export function finishDocument(generated: Json, baseUrl: string, extraPaths: Json): Json {
  const paths: Json = {};
  for (const [rawPath, item] of Object.entries(generated.paths as Json)) {
    const path = rawPath.length > 1 ? rawPath.replace(/\/$/, "") : rawPath;
    paths[path] = { ...paths[path], ...(uncoerce(item) as Json) };
  }
  Object.assign(paths, extraPaths);
  for (const [path, item] of Object.entries(paths)) {
    for (const op of Object.values(item as Json) as Json[]) {
      // Elysia also accepts forms for object bodies; the contract is JSON.
      const content = op.requestBody?.content;
      if (content?.["application/json"]) {
        delete content["application/x-www-form-urlencoded"];
        delete content["multipart/form-data"];
      }
      const r: Json = (op.responses ??= {});
      const err = (code: number) => (r[code] ??= { $ref: `#/components/responses/E${code}` });
      const authenticated = !(Array.isArray(op.security) && op.security.length === 0);
      if (path.startsWith("/api/") && authenticated) (err(401), err(403));
      if (path.startsWith("/api/") && /\{/.test(path)) err(404);
      if (op.requestBody || op.parameters?.some((p: Json) => p.in === "query")) err(422);
    }
  }
  // Only the error answers some operation refers to.
  const used = new Set([...JSON.stringify(paths).matchAll(/#\/components\/responses\/(E\d+)/g)].map((m) => m[1]!));
  return {
    openapi: generated.openapi ?? "3.1.0",
    info: {
      title: "Crontopus API",
      version: VERSION,
      description: "Cron monitoring and scheduling. Errors are `{\"error\": {\"code\", \"message\"}}`; see docs/api.md.",
      license: { name: "MIT", identifier: "MIT" },
    },
    servers: [{ url: baseUrl, description: "this server" }],
    tags: [...new Set(Object.values(paths).flatMap((item) => Object.values(item as Json).flatMap((op: Json) => op.tags ?? [])))]
      .sort()
      .map((name) => ({ name, description: TAGS[name] ?? name })),
    security: [{ bearer: [] }, { session: [] }],
    paths,
    components: {
      schemas: { Error: ErrorSchema },
      responses: Object.fromEntries(
        Object.entries(ERROR_DESCRIPTIONS).filter(([code]) => used.has(`E${code}`)).map(([code, description]) => [`E${code}`, { description, content: json({ $ref: "#/components/schemas/Error" }) }]),
      ),
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "API token (ctp_…); the agent protocol takes the agent's token (cta_…)" },
        session: { type: "apiKey", in: "cookie", name: "crontopus_session", description: "The console's session cookie" },
      },
    },
  };
}

export interface ApiDocsOptions {
  baseUrl: string;
  sessionCookie: string;
  /** Operations served outside Elysia's router (the pings), documented by hand. */
  extraPaths: Json;
}

const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Crontopus API</title>
  <link rel="stylesheet" href="/public/vendor/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-url="/api/openapi.json"></div>
  <script src="/public/vendor/swagger-ui-bundle.js"></script>
  <script src="/public/swagger-init.js"></script>
</body>
</html>
`;

/** GET /api/docs and GET /api/openapi.json, over every route of the app it is used in. */
export function apiDocs(opts: ApiDocsOptions) {
  let cached: { routes: number; doc: Json } | null = null;
  const plugin: AnyElysia = new Elysia({ name: "api-docs" })
    .get("/api/docs", () => new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } }), { detail: { hide: true } })
    .get(
      "/api/openapi.json",
      () => {
        // The routes are all known once the app is composed; build the document once.
        const routes = plugin.routes.length;
        if (cached?.routes !== routes) {
          const doc = finishDocument(toOpenAPISchema(plugin, { staticFile: false }) as Json, opts.baseUrl, opts.extraPaths);
          doc.components.securitySchemes.session.name = opts.sessionCookie;
          cached = { routes, doc };
        }
        return cached.doc;
      },
      { detail: { hide: true } },
    );
  return plugin as Elysia;
}
