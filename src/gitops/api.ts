// The /api/v1/gitops routes: settings (owner/admin write; viewers read without secrets), and the
// sync, its status, history and plan (of the branch head, or of a local tree's files); and the
// push webhook, unauthenticated (its URL names the tenant, the forge's signature proves it).
// Thin: parse, one service call, answer.
import { Elysia, t } from "elysia";
import { responses } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup, errorResponse } from "../http";
import { GitError } from "./git";
import { TargetRefused } from "../net/guard";
import { requireScope } from "../auth/principal";
import { listSyncs } from "./sync";
import { NotFound } from "../errors";
import { RateLimiter } from "../ratelimit";
import { clientIp } from "../clientip";
import { PLAN_BODY_LIMIT, WEBHOOK_BODY_LIMIT } from "../bodylimit";
import { receiveWebhook } from "./deliveries";
import { deleteGitopsSettings, getGitopsSettings, makeGitopsDeployKey, putGitopsSettings, readWebhookSecret, rotateWebhookSecret, settingsJson } from "./settings";

const SettingsBody = t.Object({
  url: t.String({ description: "https:// or ssh remote (file:// and local paths only with CRONTOPUS_ALLOW_PRIVATE_TARGETS=true)" }),
  branch: t.Optional(t.String({ default: "main" })),
  path: t.Optional(t.String({ description: "below the repository root; default the root" })),
  interval: t.Optional(t.Union([t.Integer(), t.String()], { description: "like a job's grace: 60s by default, at least 10s" })),
  prune: t.Optional(t.Boolean({ default: false })),
  write_back: t.Optional(t.Boolean({ default: false })),
  token: t.Optional(t.Union([t.String(), t.Null()], { description: "access token for https; never returned" })),
  ssh_key: t.Optional(t.Union([t.String(), t.Null()], { description: "private deploy key for ssh, without a passphrase; never returned (or let the server make one: POST /api/v1/gitops/deploy-key)" })),
  ssh_known_hosts: t.Optional(t.Union([t.String(), t.Null()], { description: "known_hosts lines the ssh remote's host key must match (as ssh-keyscan prints them); null: the first fetch pins the host's key" })),
});

const orNull = <T extends ReturnType<typeof t.String>>(x: T) => t.Union([x, t.Null()]);
const SettingsSchema = t.Object({
  url: t.String(),
  branch: t.String(),
  path: t.String(),
  interval: t.String(),
  prune: t.Boolean(),
  write_back: t.Boolean(),
  has_token: t.Boolean(),
  has_ssh_key: t.Boolean(),
  ssh_known_hosts: orNull(t.String({ description: "the host keys required; pinned on first use they start with '# pinned on first use by Crontopus at <time>'" })),
  ssh_public_key: orNull(t.String({ description: "the public key of the ssh key (one OpenSSH line), to add to the repository's deploy keys" })),
  webhook_url: t.String(),
  webhook_secret: t.Optional(t.String({ description: "owner and admin only" })),
  created_at: t.String({ format: "date-time" }),
  updated_at: t.String({ format: "date-time" }),
});

const PlanRef = t.Object({ namespace: t.String(), name: t.String(), path: t.Union([t.String(), t.Null()]) });
const PlanSchema = t.Object({
  commit: t.Union([t.String(), t.Null()], { description: "the branch head; null for a local tree" }),
  create: t.Array(PlanRef),
  update: t.Array(t.Object({ ...PlanRef.properties, changes: t.Array(t.Object({ field: t.String(), from: t.Unknown(), to: t.Unknown() })) })),
  adopt: t.Array(t.Object({ ...PlanRef.properties, changes: t.Array(t.Object({ field: t.String(), from: t.Unknown(), to: t.Unknown() })) })),
  delete: t.Array(PlanRef),
  orphan: t.Array(PlanRef),
  unchanged: t.Integer(),
  skipped: t.Array(t.String()),
  errors: t.Array(t.Object({ path: t.String(), line: t.Integer(), column: t.Integer(), message: t.String() })),
});

const TreeBody = t.Object({
  files: t.Array(
    t.Object({
      path: t.String({ description: "from the repository root, with / between directories, e.g. production/backup.yaml" }),
      content: t.String({ description: "the file's text" }),
    }),
    { description: `the files of the tree; those a sync reads (*.yaml, *.yml, *.json below the settings' path) are planned, the others ignored. The body is at most ${PLAN_BODY_LIMIT} bytes` },
  ),
});

const WebhookAnswer = t.Object({
  result: t.String({ description: "syncing (a sync started), pong (a ping answered) or ignored" }),
  reason: t.String({ description: "what was done, or why nothing was" }),
  forge: t.String({ description: "github, gitea, forgejo or gitlab" }),
  delivery: t.Union([t.String(), t.Null()], { description: "the forge's delivery id" }),
});

/**
 * POST /api/v1/gitops/webhook/<webhook_id>: no token or session; the URL names the tenant and the
 * forge's signature (or GitLab's token) proves the sender. Its raw body is read (the signature is
 * over those bytes), at most WEBHOOK_BODY_LIMIT of it.
 */
export function gitopsWebhookApi(ctx: AppContext) {
  const deps = { db: ctx.db, secrets: ctx.secrets, syncer: ctx.gitops, now: ctx.now, log: ctx.log };
  // Per client address and webhook: a flood on one URL cannot starve the forges' deliveries to others.
  const perHook = new RateLimiter(120, 60_000, "too many webhook deliveries; wait a minute");
  // Guessing ids costs a slot per address, as for pings to unknown tokens.
  const misses = new RateLimiter(120, 60_000, "too many requests to unknown webhooks; wait a minute");
  return new Elysia({ prefix: "/gitops", detail: { tags: ["gitops"] } }).post(
    "/webhook/:id",
    async ({ params, request, server, set }) => {
      const ip = clientIp(server, request, ctx.config.trustProxy);
      perHook.hit(`${ip} ${params.id}`, ctx.now());
      const body = new Uint8Array(await request.arrayBuffer());
      try {
        const r = receiveWebhook(deps, params.id, request.headers, body);
        set.status = r.result === "pong" ? 200 : 202;
        return r;
      } catch (e) {
        if (e instanceof NotFound) misses.hit(ip, ctx.now());
        throw e;
      }
    },
    {
      params: t.Object({ id: t.String({ description: "the id in webhook_url" }) }),
      parse: "none",
      detail: {
        summary: "A forge's push webhook (GitHub, Gitea, Forgejo, GitLab): verified, answered at once, synced in the background",
        description:
          `No token: the URL names the tenant and the signature proves the sender (X-Hub-Signature-256, X-Gitea-Signature, X-Forgejo-Signature: HMAC-SHA256 of the raw body with webhook_secret; X-Gitlab-Token: the secret). ` +
          `A bad or missing signature is 401. A push to the settings' branch answers 202 and syncs in the background; a push to another branch, another event or a delivery id seen before answers 202 with the reason and does not sync; a ping answers 200. ` +
          `The body is at most ${WEBHOOK_BODY_LIMIT} bytes (413 beyond); 120 deliveries a minute per client address and webhook (429 beyond). See docs/gitops.md.`,
        security: [],
        requestBody: {
          required: true,
          description: "The forge's payload, as it sent it (the signature is over these bytes)",
          // Any JSON: nothing in it is checked before the signature, and then only `ref` (refs/heads/<branch>) is read.
          content: { "application/json": { schema: { description: "the forge's payload, any JSON; after the signature is checked its ref (refs/heads/<branch>) names the pushed branch" } } },
        },
        responses: {
          ...responses(200, "A ping, answered", WebhookAnswer, [401, 404, 413, 429]),
          ...responses(202, "Accepted: a sync started, or nothing to do (with the reason)", WebhookAnswer),
        },
      },
    },
  );
}

export function gitopsApi(ctx: AppContext) {
  const { db } = ctx;
  const deps = { secrets: ctx.secrets, allowPrivateTargets: ctx.config.allowPrivateTargets };
  /** Owner and admin see the webhook secret, with no-store; everyone else the settings alone. */
  const show = (tenantId: string, admin: boolean, set: { headers: Record<string, string | number> }) => {
    const s = getGitopsSettings(db, ctx.secrets, tenantId);
    if (!admin) return settingsJson(s, ctx.config.baseUrl);
    set.headers["cache-control"] = "no-store";
    return settingsJson(s, ctx.config.baseUrl, readWebhookSecret(db, ctx.secrets, tenantId));
  };
  return apiGroup(ctx, "/gitops", "gitops")
    .get(
      "",
      ({ principal, set }) => {
        const p = requireScope(principal, "read");
        return show(p.tenantId, p.scopes.includes("admin"), set as never);
      },
      { detail: { summary: "The tenant's GitOps settings (credentials never; webhook_secret for owner and admin)", responses: responses(200, "The settings", SettingsSchema) } },
    )
    .put(
      "",
      ({ principal, body, set }) => {
        const p = requireScope(principal, "admin");
        putGitopsSettings(db, deps, p.tenantId, body, ctx.now());
        return show(p.tenantId, true, set as never);
      },
      { body: SettingsBody, detail: { summary: "Connect a repository or replace its settings (owner or admin)", responses: responses(200, "The settings", SettingsSchema) } },
    )
    .delete(
      "",
      ({ principal, set }) => {
        deleteGitopsSettings(db, requireScope(principal, "admin").tenantId);
        set.status = 204;
      },
      { detail: { summary: "Disconnect the repository: its jobs stay, as ordinary jobs", responses: responses(204, "Disconnected", null) } },
    )
    .post(
      "/webhook-secret",
      ({ principal, set }) => {
        const p = requireScope(principal, "admin");
        rotateWebhookSecret(db, ctx.secrets, p.tenantId, ctx.now());
        return show(p.tenantId, true, set as never);
      },
      { detail: { summary: "Rotate the webhook secret (the old one stops verifying at once)", responses: responses(200, "The settings, with the new secret", SettingsSchema) } },
    )
    .post(
      "/deploy-key",
      ({ principal, set }) => {
        const p = requireScope(principal, "admin");
        makeGitopsDeployKey(db, ctx.secrets, p.tenantId, ctx.now());
        return show(p.tenantId, true, set as never);
      },
      {
        detail: {
          summary: "Make an ed25519 deploy key for an ssh remote (owner or admin): the private key is sealed and never returned; ssh_public_key is the line to add to the repository's deploy keys. A new call replaces the key.",
          responses: responses(200, "The settings, with the new ssh_public_key", SettingsSchema),
        },
      },
    )
    .post(
      "/sync",
      async ({ principal, query }) => {
        const p = requireScope(principal, "write");
        getGitopsSettings(db, ctx.secrets, p.tenantId);
        const r = await ctx.gitops.sync(p.tenantId, "manual", query.confirm_prune);
        return { state: r.state, commit: r.commit, message: r.message, plan: r.plan };
      },
      {
        query: t.Object({ confirm_prune: t.Optional(t.String({ description: "the commit whose prunes the guard stopped: go ahead for it" })) }),
        detail: { summary: "Sync now and answer its result (a sync already running is waited for)", responses: responses(200, "The state and the plan applied", t.Object({ state: t.String(), commit: t.Union([t.String(), t.Null()]), message: t.Union([t.String(), t.Null()]), plan: t.Unknown() })) },
      },
    )
    .get("/status", ({ principal }) => {
      const p = requireScope(principal, "read");
      getGitopsSettings(db, ctx.secrets, p.tenantId);
      return ctx.gitops.status(p.tenantId);
    }, { detail: { summary: "The state of the last sync, its errors and its plan's counts", responses: responses(200, "The status", t.Object({ state: t.String(), commit: t.Union([t.String(), t.Null()]), last_good_commit: t.Union([t.String(), t.Null()]), last_sync_at: t.Union([t.String(), t.Null()]), next_sync_at: t.Union([t.String(), t.Null()]), message: t.Union([t.String(), t.Null()]), errors: t.Array(t.Unknown()), plan: t.Unknown() })) } })
    .get("/syncs", ({ principal, query }) => listSyncs(db, requireScope(principal, "read").tenantId, query.limit, query.cursor ? Number(query.cursor) : undefined), {
      query: t.Object({ limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 50 })), cursor: t.Optional(t.String()) }),
      detail: { summary: "The sync history, newest first", responses: responses(200, "A page of syncs", t.Object({ syncs: t.Array(t.Unknown()), next_cursor: t.Union([t.String(), t.Null()]) })) },
    })
    .get("/plan", async ({ principal }) => {
      const p = requireScope(principal, "read");
      try {
        return await ctx.gitops.plan(p.tenantId);
      } catch (e) {
        // The remote failed us, not the request: 502 with git's words.
        if (e instanceof GitError || e instanceof TargetRefused) return errorResponse(502, "fetch_failed", e.message);
        throw e;
      }
    }, {
      detail: { summary: "What a sync of the branch head would do; applies nothing", responses: responses(200, "The plan", PlanSchema, [502]) },
    })
    .post("/plan", ({ principal, body }) => ctx.gitops.planTree(requireScope(principal, "read").tenantId, body.files), {
      body: TreeBody,
      detail: {
        summary: `What a sync of a local tree would do (crontopus gitops plan --dir); applies nothing. Body at most ${PLAN_BODY_LIMIT} bytes`,
        responses: responses(200, "The plan, as GET /api/v1/gitops/plan answers it (commit null)", PlanSchema, [413]),
      },
    });
}
