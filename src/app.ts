import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import type { Config } from "./config";
import type { Db } from "./db";
import type { AppContext } from "./context";
import { createLogger, type Logger } from "./log";
import { createSessions } from "./auth/sessions";
import { authApi } from "./auth/api";
import { tenantsApi } from "./tenants/api";
import { jobsApi } from "./jobs/api";
import { errorResponse, renderApiError } from "./http";
import { publicFile } from "./assets";
import { CheckinWriter } from "./checkins/writer";
import { Engine } from "./monitor/engine";
import { pingHandler } from "./checkins/ping";
import { checkinsApi } from "./checkins/api";
import { runsApi } from "./runs/api";
import { channelsApi } from "./alerts/api";
import { agentsApi } from "./agents/api";
import { installApi } from "./agents/install";
import { metricsApi, type MetricsSources } from "./metrics/api";
import { VERSION } from "./version";
import { openSecretBox } from "./secrets";
import { applySecurityHeaders, withSecurityHeaders } from "./headers";

export interface AppOptions {
  log?: Logger;
  now?: () => number;
}

export function createContext(db: Db, config: Config, opts: AppOptions = {}): AppContext {
  const log = opts.log ?? createLogger(config.logLevel);
  const now = opts.now ?? Date.now;
  const engine = new Engine({ db, log, baseUrl: config.baseUrl, now });
  const checkins = new CheckinWriter(db);
  // A check-in is applied to its job's state after its commit and before its answer.
  checkins.onCommit = (rows) => engine.applyCommitted(rows);
  return {
    db,
    config,
    log,
    sessions: createSessions(db, { secure: config.baseUrl.startsWith("https:") }),
    secrets: openSecretBox(config.secretKeyPath),
    checkins,
    engine,
    now,
    kick: () => {},
    pruneSoon: () => {},
  };
}

/** The whole HTTP surface: REST API, docs, health, static files. */
export function createApp(ctx: AppContext, sources: MetricsSources = { engine: ctx.engine }) {
  const api = new Elysia({ prefix: "/api/v1" })
    .use(authApi(ctx))
    .use(tenantsApi(ctx))
    .use(jobsApi(ctx))
    .use(checkinsApi(ctx))
    .use(runsApi(ctx))
    .use(channelsApi(ctx))
    .use(agentsApi(ctx));

  const ping = pingHandler({
    db: ctx.db,
    log: ctx.log,
    writer: ctx.checkins,
    bodyLimit: ctx.config.pingBodyLimit,
    perJobPerMinute: ctx.config.pingRateLimit,
    trustProxy: ctx.config.trustProxy,
    now: ctx.now,
  });

  // Pings are Bun routes of their own on a live server (the hot path skips Elysia's
  // pipeline); the Elysia route below serves app.handle() in tests and is the fallback.
  return new Elysia({ serve: { routes: { "/ping/*": withSecurityHeaders(ping) } } })
    .onRequest(({ request, set }) => applySecurityHeaders(request, set.headers))
    .onError(({ code, error, request }) => renderApiError(ctx, code, error, request))
    .use(
      openapi({
        path: "/api/docs",
        // Include /install.sh and /install.ps1 (paths with a dot are left out by default).
        exclude: { staticFile: false },
        specPath: "/api/openapi.json",
        provider: "swagger-ui",
        swagger: { cdn: "/public/vendor/swagger-ui-bundle.js", theme: "/public/vendor/swagger-ui.css", autoDarkMode: false },
        documentation: {
          info: { title: "Crontopus API", version: VERSION, description: "Cron monitoring and scheduling. See docs/api.md." },
          components: {
            securitySchemes: {
              bearer: { type: "http", scheme: "bearer", description: "API token (ctp_…)" },
              session: { type: "apiKey", in: "cookie", name: ctx.sessions.cookieName },
            },
          },
          security: [{ bearer: [] }, { session: [] }],
        },
      }),
    )
    .get(
      "/health",
      ({ set }) => {
        try {
          ctx.db.query("SELECT 1").get();
          return { status: "ok", version: VERSION };
        } catch {
          set.status = 503;
          return { status: "unavailable", version: VERSION };
        }
      },
      { detail: { tags: ["system"], summary: "Liveness and database check" } },
    )
    .all("/ping/*", ({ request, server }) => ping(request, server), { detail: { hide: true } })
    .get("/public/*", ({ params, request }) => publicFile(params["*"]) ?? errorResponse(404, "not_found", `no file ${new URL(request.url).pathname}`), {
      detail: { hide: true },
    })
    .use(metricsApi(ctx, sources))
    .use(installApi(ctx))
    .use(api);
}

export type App = ReturnType<typeof createApp>;
