// gitops get | set | disconnect | sync | plan: the tenant's Git repository (see docs/gitops.md).
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect } from "./client";
import { printJson, useColour } from "./output";
import { printDone } from "./commands";
import { CliError, describeFailure } from "./run";
import { checkArgs } from "./args";
import type { PlanJson } from "../gitops/render";

interface Settings {
  url: string;
  branch: string;
  path: string;
  interval: string;
  prune: boolean;
  write_back: boolean;
  has_token: boolean;
  has_ssh_key: boolean;
  webhook_url: string;
  webhook_secret?: string;
}

function printSettings(s: Settings): void {
  const rows: [string, string][] = [
    ["url", s.url],
    ["branch", s.branch],
    ["path", s.path || "(root)"],
    ["interval", s.interval],
    ["prune", String(s.prune)],
    ["write_back", String(s.write_back)],
    ["credentials", s.has_token ? "token" : s.has_ssh_key ? "ssh key" : "none"],
    ["webhook_url", s.webhook_url],
    ...(s.webhook_secret ? ([["webhook_secret", s.webhook_secret]] as [string, string][]) : []),
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(15)} ${v}`);
}

const get = clientCommand({
  meta: { name: "get", description: "Show the tenant's GitOps settings (never the credentials)" },
  args: { ...clientArgs },
  async run({ args }) {
    const s = await connect(args).request<Settings>("GET", "/api/v1/gitops");
    if (args.json) return printJson(s);
    printSettings(s);
  },
});

const set = clientCommand({
  meta: { name: "set", description: "Connect a repository or change its settings (owner or admin)" },
  args: {
    url: { type: "positional", required: true, description: "https:// or ssh remote", valueHint: "URL" },
    branch: { type: "string", description: "Branch (default main)" },
    path: { type: "string", description: "Path in the repository (default the root)" },
    interval: { type: "string", description: "Sync interval, e.g. 60s (at least 10s)" },
    prune: { type: "boolean", description: "Delete git-managed jobs whose manifest is gone (default off)" },
    "write-back": { type: "boolean", description: "Commit API edits of git-managed jobs back (default off)" },
    "token-stdin": { type: "boolean", description: "Read an https access token from stdin" },
    ...clientArgs,
  },
  async run({ args }) {
    const body: Record<string, unknown> = { url: args.url };
    if (args.branch !== undefined) body.branch = args.branch;
    if (args.path !== undefined) body.path = args.path;
    if (args.interval !== undefined) body.interval = args.interval;
    if (args.prune !== undefined) body.prune = args.prune;
    if (args["write-back"] !== undefined) body.write_back = args["write-back"];
    if (args["token-stdin"]) body.token = (await new Response(Bun.stdin.stream()).text()).trim();
    const s = await connect(args).request<Settings>("PUT", "/api/v1/gitops", { json: body });
    if (args.json) return printJson(s);
    printSettings(s);
  },
});

const disconnect = clientCommand({
  meta: { name: "disconnect", description: "Disconnect the repository: its jobs stay, as ordinary jobs" },
  args: { ...clientArgs },
  async run({ args }) {
    await connect(args).request("DELETE", "/api/v1/gitops");
    printDone(args.json, { disconnected: true }, "disconnected; the jobs stay as ordinary jobs");
  },
});

const sync = clientCommand({
  meta: { name: "sync", description: "Sync now and print the result (waits for a sync already running)" },
  args: {
    "confirm-prune": { type: "boolean", description: "Go ahead with the deletes the prune guard stopped, for the branch's current commit" },
    ...clientArgs,
  },
  async run({ args }) {
    const client = connect(args);
    let query = "";
    if (args["confirm-prune"]) {
      const status = await client.request<{ commit: string | null }>("GET", "/api/v1/gitops/status");
      if (!status.commit) throw new CliError("no commit to confirm: sync once first");
      query = `?confirm_prune=${encodeURIComponent(status.commit)}`;
    }
    const r = await client.request<{ state: string; commit: string | null; message: string | null; plan: any }>("POST", `/api/v1/gitops/sync${query}`);
    if (args.json) return printJson(r);
    const { renderPlan } = await import("../gitops/render");
    if (r.plan) process.stdout.write(renderPlan(r.plan, { colour: useColour() }));
    const line = `${r.state}${r.commit ? ` at ${r.commit.slice(0, 12)}` : ""}${r.message ? `: ${r.message}` : ""}`;
    if (r.state === "failing") throw new CliError(`sync ${line}`);
    console.log(`state: ${line}`);
  },
});

const planArgs = {
  dir: { type: "string", description: "Plan a local working tree instead of the branch head (the files a sync would read, below the settings' path)", valueHint: "DIR" },
  "exit-code": { type: "boolean", description: "Exit 0 for no changes, 2 for changes, 1 for any error (also a usage error)" },
  ...clientArgs,
} as const;

const plan = defineCommand({
  meta: { name: "plan", description: "Print what a sync of the branch head, or of a local tree (--dir), would do (Terraform-like)" },
  args: planArgs,
  async run({ args, rawArgs }) {
    try {
      checkArgs(rawArgs, planArgs);
      const { renderPlan, planExitCode } = await import("../gitops/render");
      const client = connect(args);
      let p: PlanJson;
      if (args.dir !== undefined) {
        const { readLocalTree, LocalTreeError } = await import("../gitops/localtree");
        // The settings say which path below the tree a sync reads.
        const { path } = await client.request<Settings>("GET", "/api/v1/gitops");
        let files;
        try {
          files = readLocalTree(args.dir, path);
        } catch (e) {
          if (e instanceof LocalTreeError) throw new CliError(e.message);
          throw e;
        }
        p = await client.request<PlanJson>("POST", "/api/v1/gitops/plan", { json: { files } });
      } else {
        p = await client.request<PlanJson>("GET", "/api/v1/gitops/plan");
      }
      if (args.json) printJson(p);
      else process.stdout.write(renderPlan(p, { colour: useColour() }));
      if (args["exit-code"]) process.exitCode = planExitCode(p);
    } catch (e) {
      // With --exit-code, 2 means "changes": every failure exits 1, a usage error too.
      if (args["exit-code"]) throw new CliError(describeFailure(e).line.replace(/^error: /, ""), 1);
      throw e;
    }
  },
});

export default defineCommand({
  meta: { name: "gitops", description: "A Git repository as the source of the tenant's jobs" },
  subCommands: { get, set, disconnect, sync, plan },
});
