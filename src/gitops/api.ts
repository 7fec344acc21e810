// The /api/v1/gitops routes: settings (owner/admin write; viewers read without secrets), and the
// sync, its status, history and plan. Thin: parse, one service call, answer.
import { t } from "elysia";
import { responses } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { requireScope } from "../auth/principal";
import { deleteGitopsSettings, getGitopsSettings, putGitopsSettings, readWebhookSecret, rotateWebhookSecret, settingsJson } from "./settings";

const SettingsBody = t.Object({
  url: t.String({ description: "https:// or ssh remote (file:// and local paths only with CRONTOPUS_ALLOW_PRIVATE_TARGETS=true)" }),
  branch: t.Optional(t.String({ default: "main" })),
  path: t.Optional(t.String({ description: "below the repository root; default the root" })),
  interval: t.Optional(t.Union([t.Integer(), t.String()], { description: "like a job's grace: 60s by default, at least 10s" })),
  prune: t.Optional(t.Boolean({ default: false })),
  write_back: t.Optional(t.Boolean({ default: false })),
  token: t.Optional(t.Union([t.String(), t.Null()], { description: "access token for https; never returned" })),
  ssh_key: t.Optional(t.Union([t.String(), t.Null()], { description: "private deploy key for ssh; never returned" })),
  ssh_known_hosts: t.Optional(t.Union([t.String(), t.Null()])),
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
  ssh_known_hosts: orNull(t.String()),
  ssh_public_key: orNull(t.String()),
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
    );
}
