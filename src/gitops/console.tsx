// The GitOps page of the console, /settings/gitops, and its parts: read by every member (as GET
// /api/v1/gitops and its status, syncs and plan are), synced with the write scope (as POST
// /api/v1/gitops/sync), changed, rotated and disconnected with the admin scope only (owners and
// admins, as PUT, POST …/webhook-secret and DELETE), through the same service functions. The
// deploy key is made by POST /settings/gitops/deploy-key (the service POST /api/v1/gitops/deploy-key calls).
import type { AppContext } from "../context";
import { BadRequest } from "../errors";
import { requireScope, type Principal } from "../auth/principal";
import { Invalid } from "../errors";
import { consoleGroup, field, fieldErrors, flash, hxRedirect, page } from "../console/surface";
import { TargetRefused } from "../net/guard";
import { GitError } from "./git";
import { lastSyncPlan, listSyncs, type SyncResult } from "./sync";
import {
  countGitManagedJobs,
  deleteGitopsSettings,
  findGitopsSettings,
  getGitopsSettings,
  putGitopsSettings,
  readWebhookSecret,
  makeGitopsDeployKey,
  rotateWebhookSecret,
  settingsJson,
  type SettingsInput,
} from "./settings";
import {
  DisconnectPage,
  GitopsPage,
  GitopsPlan,
  GitopsStatusPart,
  gitopsValuesOf,
  NEW_GITOPS,
  SyncEntries,
  SyncHistory,
  type GitopsFormValues,
  type GitopsView,
  type PlanOutcome,
} from "../../views/gitops";

/** How many syncs a page of the history shows. */
const SYNCS_PAGE = 20;

const can = (viewer: Principal | null, scope: "admin" | "write") => !!viewer?.scopes.includes(scope);

/** A history cursor as the service takes it: the id of the last sync seen. */
function cursorOf(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new BadRequest("cursor: not one this server gave");
  return Number(raw);
}

/** The form's fields as the service takes them; a token left empty keeps the stored one. */
function inputOf(v: GitopsFormValues, token: string): SettingsInput {
  return {
    url: v.url,
    branch: v.branch || undefined,
    path: v.path,
    interval: v.interval || undefined,
    prune: v.prune,
    write_back: v.write_back,
    token: v.remove_token ? null : token || undefined,
    ssh_known_hosts: v.ssh_known_hosts.trim() || null,
  };
}

export function gitopsConsole(ctx: AppContext) {
  const { db } = ctx;
  const deps = { secrets: ctx.secrets, allowPrivateTargets: ctx.config.allowPrivateTargets };

  /** Everything the page shows, from the services; `over` for a form with errors or a sync's result. */
  const viewOf = (viewer: Principal | null, { syncsCursor, ...over }: Partial<GitopsView> & { syncsCursor?: number } = {}): GitopsView => {
    const tenantId = requireScope(viewer, "read").tenantId;
    const canAdmin = can(viewer, "admin");
    const settings = findGitopsSettings(db, ctx.secrets, tenantId);
    const json = settings ? settingsJson(settings, ctx.config.baseUrl) : null;
    const plan = settings ? lastSyncPlan(db, tenantId) : null;
    return {
      settings,
      webhookUrl: json?.webhook_url ?? null,
      webhookSecret: settings && canAdmin ? readWebhookSecret(db, ctx.secrets, tenantId) : null,
      status: ctx.gitops.status(tenantId),
      orphans: plan?.orphan ?? [],
      syncs: listSyncs(db, tenantId, SYNCS_PAGE, syncsCursor),
      olderSyncs: syncsCursor !== undefined,
      canAdmin,
      canWrite: can(viewer, "write"),
      values: settings ? gitopsValuesOf(settings) : NEW_GITOPS,
      errors: {},
      now: ctx.now(),
      ...over,
    };
  };

  /** The plan of the branch head; a remote that fails (or is refused) is the outcome, not an error page. */
  const planOf = async (tenantId: string): Promise<PlanOutcome> => {
    try {
      return { plan: await ctx.gitops.plan(tenantId) };
    } catch (e) {
      if (e instanceof GitError || e instanceof TargetRefused) return { error: e.message };
      throw e;
    }
  };

  return consoleGroup(ctx, "tenant")
    .get("/settings/gitops", async ({ query, viewer, shell }) => {
      const q = query as Record<string, string | undefined>;
      const view = viewOf(viewer, { syncsCursor: cursorOf(q.syncs) });
      if (q.plan && view.settings) view.plan = await planOf(viewer!.tenantId!);
      return page(GitopsPage({ shell, view }));
    })
    .post("/settings/gitops", async ({ body, request, viewer, shell, set }) => {
      const tenantId = requireScope(viewer, "admin").tenantId;
      const values: GitopsFormValues = {
        url: field(body, "url").trim(),
        branch: field(body, "branch").trim(),
        path: field(body, "path").trim(),
        interval: field(body, "interval").trim(),
        prune: field(body, "prune") === "on",
        write_back: field(body, "write_back") === "on",
        ssh_known_hosts: field(body, "ssh_known_hosts"),
        remove_token: field(body, "remove_token") === "on",
      };
      const connected = !!findGitopsSettings(db, ctx.secrets, tenantId);
      try {
        putGitopsSettings(db, deps, tenantId, inputOf(values, field(body, "token").trim()), ctx.now());
      } catch (e) {
        const errors = fieldErrors(e);
        if (!errors) throw e;
        return page(GitopsPage({ shell, view: viewOf(viewer, { values, errors }) }), 422);
      }
      flash(ctx, set, { kind: "ok", text: connected ? "GitOps settings saved." : "Repository connected. Sync now to apply its jobs, or wait for the first periodic sync." });
      return hxRedirect(request, "/settings/gitops");
    })
    .post("/settings/gitops/sync", async ({ body, request, viewer, shell, set }) => {
      const tenantId = requireScope(viewer, "write").tenantId;
      const settings = getGitopsSettings(db, ctx.secrets, tenantId);
      const confirm = field(body, "confirm_prune").trim() || undefined;
      const result: SyncResult = await ctx.gitops.sync(tenantId, "manual", confirm);
      if (request.headers.get("hx-request") === "true") {
        // The status with the result in place; the history and the plan swapped by their ids (the plan to be fetched again).
        const view = viewOf(viewer, { result });
        return page(
          <>
            <GitopsStatusPart view={view} csrf={shell.csrf} />
            <SyncHistory url={settings.url} syncs={view.syncs} now={view.now} oob />
            <GitopsPlan url={settings.url} oob />
          </>,
        );
      }
      const what = result.commit ? `Synced ${result.commit.slice(0, 12)}: ${result.state}.` : `Sync ${result.state}.`;
      flash(ctx, set, { kind: result.state === "failing" ? "error" : result.state === "degraded" ? "info" : "ok", text: result.message ? `${what} ${result.message}` : what });
      return hxRedirect(request, "/settings/gitops");
    })
    .get("/settings/gitops/plan", async ({ viewer }) => {
      const tenantId = requireScope(viewer, "read").tenantId;
      const settings = getGitopsSettings(db, ctx.secrets, tenantId);
      return page(GitopsPlan({ url: settings.url, outcome: await planOf(tenantId) }));
    })
    .get("/settings/gitops/syncs", ({ query, viewer }) => {
      const tenantId = requireScope(viewer, "read").tenantId;
      const settings = getGitopsSettings(db, ctx.secrets, tenantId);
      const syncs = listSyncs(db, tenantId, SYNCS_PAGE, cursorOf((query as Record<string, string | undefined>).cursor));
      return page(SyncEntries({ url: settings.url, syncs, now: ctx.now() }));
    })
    .post("/settings/gitops/webhook-secret", ({ request, viewer, set }) => {
      rotateWebhookSecret(db, ctx.secrets, requireScope(viewer, "admin").tenantId, ctx.now());
      flash(ctx, set, { kind: "ok", text: "New webhook secret. Deliveries signed with the old one are refused now: paste the new one into the forge." });
      return hxRedirect(request, "/settings/gitops");
    })
    .post("/settings/gitops/deploy-key", ({ request, viewer, set }) => {
      try {
        makeGitopsDeployKey(db, ctx.secrets, requireScope(viewer, "admin").tenantId, ctx.now());
        flash(ctx, set, { kind: "ok", text: "New deploy key. Add its public key (below) to the repository's deploy keys; the old key no longer works." });
      } catch (e) {
        // An https remote: a token is what it takes, not a key.
        if (!(e instanceof Invalid)) throw e;
        flash(ctx, set, { kind: "error", text: "No deploy key made: a deploy key is for ssh remotes (git@host:owner/repo.git or ssh://…). An https remote takes an access token instead." });
      }
      return hxRedirect(request, "/settings/gitops");
    })
    .get("/settings/gitops/disconnect", ({ viewer, shell }) => {
      const tenantId = requireScope(viewer, "admin").tenantId;
      return page(DisconnectPage({ shell, settings: getGitopsSettings(db, ctx.secrets, tenantId), managed: countGitManagedJobs(db, tenantId) }));
    })
    .post("/settings/gitops/disconnect", ({ request, viewer, set }) => {
      deleteGitopsSettings(db, requireScope(viewer, "admin").tenantId);
      flash(ctx, set, { kind: "ok", text: "Repository disconnected. Its jobs stay, as ordinary jobs." });
      return hxRedirect(request, "/settings/gitops");
    });
}
