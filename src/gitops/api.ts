// The /api/v1/gitops routes: settings (owner/admin write; viewers read without secrets), and the
// sync, its status, history and plan. Thin: parse, one service call, answer.
import { t } from "elysia";
import { responses } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup, errorResponse } from "../http";
import { GitError } from "./git";
import { TargetRefused } from "../net/guard";
import { requireScope } from "../auth/principal";
import { gitopsStatus, listSyncs } from "./sync";
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
      return gitopsStatus(db, p.tenantId);
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
      detail: { summary: "What a sync of the branch head would do; applies nothing", responses: responses(200, "The plan", t.Unknown()) },
    });
}
