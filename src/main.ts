#!/usr/bin/env bun
// One entry point: the server, the CLI and the agent. Subcommands load lazily so `--help` stays fast.
import "./cli/nocolor";
import { defineCommand } from "citty";
import { runCli } from "./cli/run";
import { VERSION } from "./version";

const lazy = (load: () => Promise<{ default: any }>) => () => load().then((m) => m.default);

export const main = defineCommand({
  meta: { name: "crontopus", version: VERSION, description: "Cron monitoring and scheduling: server, CLI and agent" },
  subCommands: {
    serve: lazy(() => import("./cli/serve")),
    migrate: lazy(() => import("./cli/migrate")),
    backup: lazy(() => import("./cli/backup")),
    restore: lazy(() => import("./cli/restore")),
    config: lazy(() => import("./cli/config")),
    admin: lazy(() => import("./cli/admin")),
    version: lazy(() => import("./cli/version")),
    health: lazy(() => import("./cli/health")),
    auth: lazy(() => import("./cli/auth")),
    tenants: lazy(() => import("./cli/tenants")),
    tokens: lazy(() => import("./cli/tokens")),
    namespaces: lazy(() => import("./cli/namespaces")),
    jobs: lazy(() => import("./cli/jobs")),
    runs: lazy(() => import("./cli/runs")),
    logs: lazy(() => import("./cli/logs")),
    ping: lazy(() => import("./cli/ping")),
    exec: lazy(() => import("./cli/exec")),
    channels: lazy(() => import("./cli/channels")),
    gitops: lazy(() => import("./cli/gitops")),
    agent: lazy(() => import("./cli/agent")),
    agents: lazy(() => import("./cli/agents")),
    "enroll-tokens": () => import("./cli/agents").then((m) => m.enrollTokens),
  },
});

if (import.meta.main) {
  process.exitCode = await runCli(main, process.argv.slice(2));
}
