// The console: every feature's console surface, composed. createApp mounts it before the API's
// error handler, so that errors on these routes are pages (consoleGroup's own handler).
import { Elysia } from "elysia";
import type { AppContext } from "../context";
import { authConsole } from "../auth/console";
import { dashboardConsole } from "./dashboard";
import { jobsConsole } from "../jobs/console";
import { agentsConsole } from "../agents/console";
import { runsConsole } from "../runs/console";
import { eventsConsole } from "../events/console";
import { tenantSettingsConsole } from "../tenants/settings-console";
import { channelsConsole } from "../alerts/console";
import { tokensConsole } from "../auth/tokens-console";
import { enrollmentConsole } from "../agents/enrollment-console";
import { membersConsole } from "../tenants/members-console";
import { gitopsConsole } from "../gitops/console";

export function consoleApp(ctx: AppContext) {
  return new Elysia({ name: "console" })
    .use(authConsole(ctx))
    .use(dashboardConsole(ctx))
    .use(runsConsole(ctx))
    .use(jobsConsole(ctx))
    .use(agentsConsole(ctx))
    .use(tenantSettingsConsole(ctx))
    .use(channelsConsole(ctx))
    .use(tokensConsole(ctx))
    .use(enrollmentConsole(ctx))
    .use(membersConsole(ctx))
    .use(gitopsConsole(ctx))
    .use(eventsConsole(ctx));
}
