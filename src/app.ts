import { Elysia, t } from "elysia";
import type { Config } from "./config";
import type { Db } from "./db";
import type { AppContext } from "./context";
import { createLogger, type Logger } from "./log";
import { createSessions } from "./auth/sessions";
import { LoginThrottle } from "./auth/login";
import { FirstRun } from "./auth/setup";
import { authApi } from "./auth/api";
import { invitationsApi, tenantsApi } from "./tenants/api";
import { jobsApi } from "./jobs/api";
import { errorResponse, NORMALIZE, renderApiError } from "./http";
import { assetResponse, publicFile } from "./assets";
import { CheckinWriter } from "./checkins/writer";
import { StorageStatus } from "./storage";
import { Engine } from "./monitor/engine";
import { pingHandler } from "./checkins/ping";
import { checkinsApi } from "./checkins/api";
import { runsApi } from "./runs/api";
import { channelsApi } from "./alerts/api";
import { agentsApi } from "./agents/api";
import { installApi } from "./agents/install";
import { metricsApi, type MetricsSources } from "./metrics/api";
import { VERSION } from "./version";
import { apiDocs, responses } from "./openapi";
import { pingPaths } from "./checkins/api";
import { openSecretBox } from "./secrets";
import { applySecurityHeaders } from "./headers";
import { bodyLimit } from "./bodylimit";
import { consoleApp } from "./console/routes";
import { eventHub } from "./events/hub";
import { eventFeed } from "./events/feed";
import { eventsApi } from "./events/api";
import { gitopsApi, gitopsWebhookApi } from "./gitops/api";
import { GitopsSyncer } from "./gitops/sync";
import { RequestLog } from "./requestlog";

export interface AppOptions {
  log?: Logger;
  now?: () => number;
  /** The live events' window budget in bytes (tests that must fill a client's buffers fast). */
  eventWindowBytes?: number;
  /** How often the request log writes its summary of pings and probes, in ms (default a minute). */
  requestSummaryMs?: number;
}

export function createContext(db: Db, config: Config, opts: AppOptions = {}): AppContext {
  const log = opts.log ?? createLogger(config.logLevel, undefined, config.logFormat);
  const now = opts.now ?? Date.now;
  const storage = new StorageStatus(db, log);
  const engine = new Engine({ db, log, baseUrl: config.baseUrl, now });
  const checkins = new CheckinWriter(db, storage);
  // A check-in is applied to its job's state after its commit and before its answer.
  checkins.onCommit = (rows) => engine.applyCommitted(rows);
  const secrets = openSecretBox(config.secretKeyPath);
  const events = eventHub(db);
  events.configure(eventFeed(db), now, { windowBytes: opts.eventWindowBytes });
  return {
    db,
    config,
    log,
    sessions: createSessions(db, { secure: config.baseUrl.startsWith("https:") }),
    loginThrottle: new LoginThrottle(),
    firstRun: new FirstRun(),
    secrets,
    gitops: new GitopsSyncer({ db, secrets, dataDir: config.dataDir, allowPrivateTargets: config.allowPrivateTargets, baseUrl: config.baseUrl, caFile: config.gitopsCaBundle, now, log, rolledBack: () => engine.recover() }),
    checkins,
    storage,
    engine,
    events,
    requests: new RequestLog(log, { summaryMs: opts.requestSummaryMs }),
    now,
    kick: () => {},
    pruneSoon: () => {},
  };
}

/** The whole HTTP surface: console, REST API, docs, health, static files. */
export function createApp(ctx: AppContext, sources: MetricsSources = { engine: ctx.engine }) {
  const api = new Elysia({ prefix: "/api/v1" })
    .use(authApi(ctx))
    .use(tenantsApi(ctx))
    .use(invitationsApi(ctx))
    .use(jobsApi(ctx))
    .use(checkinsApi(ctx))
    .use(runsApi(ctx))
    .use(channelsApi(ctx))
    .use(agentsApi(ctx))
    .use(eventsApi(ctx))
    .use(gitopsWebhookApi(ctx))
    .use(gitopsApi(ctx));

  const answerPing = pingHandler({
    db: ctx.db,
    log: ctx.log,
    writer: ctx.checkins,
    bodyLimit: ctx.config.pingBodyLimit,
    perJobPerMinute: ctx.config.pingRateLimit,
    trustProxy: ctx.config.trustProxy,
    now: ctx.now,
  });
  // Pings are Bun routes of their own on a live server (the hot path skips Elysia's
  // pipeline, so the request log counts them here); the Elysia route below serves
  // app.handle() in tests and is the fallback, counted by the request log's hooks.
  const ping = ctx.requests.counted("/ping/*", answerPing);

  return new Elysia({ normalize: NORMALIZE, serve: { routes: { "/ping/*": ping } } })
    .use(ctx.requests.hooks())
    .onRequest(({ request, set }) => applySecurityHeaders(request, set.headers))
    .use(bodyLimit({ maxBody: ctx.config.maxBody, pingBodyLimit: ctx.config.pingBodyLimit }))
    // The console before the API's error handler: its own renders errors as pages.
    .use(consoleApp(ctx))
    .onError(({ code, error, request, query, body }) => renderApiError(ctx, code, error, request, { query, body }))
    .use(apiDocs({ baseUrl: ctx.config.baseUrl, sessionCookie: ctx.sessions.cookieName, extraPaths: pingPaths }))
    .get(
      "/health",
      ({ set }) => {
        try {
          ctx.db.query("SELECT 1").get();
        } catch {
          set.status = 503;
          return { status: "unavailable", version: VERSION };
        }
        const fault = ctx.storage.check(ctx.now());
        if (fault) {
          set.status = 503;
          return { status: "degraded", reason: fault.reason, since: new Date(fault.since).toISOString(), version: VERSION };
        }
        return { status: "ok", version: VERSION };
      },
      {
        detail: {
          tags: ["system"],
          summary: "Liveness and database check: 503 degraded while the database refuses writes",
          security: [],
          responses: {
            ...responses(200, "Up", t.Object({ status: t.String(), version: t.String() })),
            ...responses(503, "The database does not answer, or refuses writes (degraded, with reason and since)", t.Object({ status: t.String(), version: t.String(), reason: t.Optional(t.String()), since: t.Optional(t.String()) })),
          },
        },
      },
    )
    .all("/ping/*", ({ request, server }) => answerPing(request, server), { detail: { hide: true } })
    .get("/public/*", ({ params, request }) => publicFile(params["*"]) ?? errorResponse(404, "not_found", `no file ${new URL(request.url).pathname}`), {
      detail: { hide: true },
    })
    .get("/assets/:file", async ({ params, request }) => (await assetResponse(params.file, request)) ?? errorResponse(404, "not_found", `no file ${new URL(request.url).pathname}`), {
      detail: { hide: true },
    })
    .use(metricsApi(ctx, sources))
    .use(installApi(ctx))
    .use(api);
}

export type App = ReturnType<typeof createApp>;
