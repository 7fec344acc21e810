// The console: every feature's console surface, composed. createApp mounts it before the API's
// error handler, so that errors on these routes are pages (consoleGroup's own handler).
import { Elysia } from "elysia";
import type { AppContext } from "../context";
import { authConsole } from "../auth/console";
import { dashboardConsole } from "./dashboard";
import { jobsConsole } from "../jobs/console";
import { pendingConsole } from "./pending";
import { runsConsole } from "../runs/console";
import { eventsConsole } from "../events/console";

export function consoleApp(ctx: AppContext) {
  return new Elysia({ name: "console" }).use(authConsole(ctx)).use(dashboardConsole(ctx)).use(runsConsole(ctx)).use(jobsConsole(ctx)).use(pendingConsole(ctx)).use(eventsConsole(ctx));
}
