// The dashboard, GET /: what the tenant's jobs and agents are doing, from their services; and
// GET /dashboard/live, its content alone, which the open page fetches again as they change.
import type { AppContext } from "../context";
import type { Db } from "../db";
import { countJobsByStatus } from "../jobs/jobs";
import { listJobsInStatus } from "../jobs/attention";
import { listRuns } from "../runs/runs";
import { listAgents } from "../agents/registry";
import { gitopsAttention } from "../gitops/sync";
import { consoleGroup, page } from "./surface";
import { DashboardLive, DashboardPage, type Dashboard } from "../../views/dashboard";

/** How many jobs each of the dashboard's lists shows (the counts link to the rest). */
const LISTED = 10;

function dashboardOf(db: Db, tenantId: string): Dashboard {
  return {
    counts: countJobsByStatus(db, tenantId),
    failing: listJobsInStatus(db, tenantId, ["failed", "down"], LISTED),
    late: listJobsInStatus(db, tenantId, ["late"], LISTED),
    running: listJobsInStatus(db, tenantId, ["running"], LISTED),
    recent: listRuns(db, tenantId, { limit: LISTED }).runs,
    offline: listAgents(db, tenantId, { status: "offline" }),
    gitops: gitopsAttention(db, tenantId),
  };
}

export function dashboardConsole(ctx: AppContext) {
  return (
    consoleGroup(ctx, "tenant")
      .get("/", ({ viewer, shell }) => page(DashboardPage({ shell, dashboard: dashboardOf(ctx.db, viewer!.tenantId!), now: ctx.now() })))
      // The same, alone: what the open dashboard fetches when the tenant's jobs, runs or agents change.
      .get("/dashboard/live", ({ viewer, shell }) => page(DashboardLive({ dashboard: dashboardOf(ctx.db, viewer!.tenantId!), now: ctx.now(), tenant: shell.tenant?.name ?? "" })))
  );
}
