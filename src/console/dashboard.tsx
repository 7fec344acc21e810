// The dashboard, GET /: what the tenant's jobs are doing, from the jobs service.
import type { AppContext } from "../context";
import { countJobsByStatus } from "../jobs/jobs";
import { consoleGroup, page } from "./surface";
import { DashboardPage } from "../../views/dashboard";

export function dashboardConsole(ctx: AppContext) {
  return consoleGroup(ctx, "tenant").get("/", ({ viewer, shell }) => page(DashboardPage({ shell, counts: countJobsByStatus(ctx.db, viewer!.tenantId!) })));
}
