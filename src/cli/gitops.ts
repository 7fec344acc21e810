// gitops get | set | deploy-key | disconnect | sync | plan: the tenant's Git repository (see docs/gitops.md).
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect } from "./client";
import { printJson, useColour } from "./output";
import { printDone } from "./commands";
import { CliError, describeFailure } from "./run";
import { checkArgs } from "./args";
import type { PlanJson } from "../gitops/render";
import { keyFingerprint, knownHostsEntries, PINNED_MARK } from "../gitops/sshkey";

interface Settings {
  url: string;
  branch: string;
  path: string;
  interval: string;
  prune: boolean;
  write_back: boolean;
  has_token: boolean;
  has_ssh_key: boolean;
  ssh_known_hosts: string | null;
  ssh_public_key: string | null;
  webhook_url: string;
  webhook_secret?: string;
}

/** Each host key as `name type SHA256:fingerprint` (what forges publish), marked when pinned on first use. */
function hostKeyRows(knownHosts: string | null): [string, string][] {
  const pinned = knownHosts?.startsWith(PINNED_MARK) ? /at (\S+)/.exec(knownHosts.split("\n")[0]!)?.[1] : null;
  return knownHostsEntries(knownHosts).map((line) => {
    const [name, type] = line.startsWith("@") ? line.split(/\s+/).slice(1) : line.split(/\s+/);
    return ["ssh_host_key", `${name} ${type} ${keyFingerprint(line) ?? ""}${pinned ? ` (pinned on first use at ${pinned})` : ""}`];
  });
}

function printSettings(s: Settings): void {
  const rows: [string, string][] = [
    ["url", s.url],
    ["branch", s.branch],
    ["path", s.path || "(root)"],
    ["interval", s.interval],
    ["prune", String(s.prune)],
    ["write_back", String(s.write_back)],
    ["credentials", [s.has_token && "token", s.has_ssh_key && "ssh key"].filter(Boolean).join(", ") || "none"],
    ...(s.ssh_public_key ? ([["ssh_public_key", s.ssh_public_key]] as [string, string][]) : []),
    ...hostKeyRows(s.ssh_known_hosts),
    ["webhook_url", s.webhook_url],
    ...(s.webhook_secret ? ([["webhook_secret", s.webhook_secret]] as [string, string][]) : []),
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(15)} ${v}`);
}

/** A file's text for an option; "-" reads stdin. One line on stderr and exit 1 when it cannot be read. */
async function readOptionFile(option: string, path: string): Promise<string> {
  try {
    return path === "-" ? await new Response(Bun.stdin.stream()).text() : await Bun.file(path).text();
  } catch (e) {
    throw new CliError(`--${option}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
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
    "ssh-key-file": { type: "string", description: "A private ssh key (no passphrase) for an ssh remote; - reads stdin. Or let the server make one: gitops deploy-key", valueHint: "FILE" },
    "known-hosts-file": { type: "string", description: "known_hosts lines the ssh host must match (ssh-keyscan's output; - reads stdin); without, the first fetch pins the host's key", valueHint: "FILE" },
    ...clientArgs,
  },
  async run({ args }) {
    const fromStdin = [args["token-stdin"] && "--token-stdin", args["ssh-key-file"] === "-" && "--ssh-key-file -", args["known-hosts-file"] === "-" && "--known-hosts-file -"].filter(Boolean);
    if (fromStdin.length > 1) throw new CliError(`${fromStdin.join(" and ")} would both read stdin: give one of them a file`);
    const body: Record<string, unknown> = { url: args.url };
    if (args.branch !== undefined) body.branch = args.branch;
    if (args.path !== undefined) body.path = args.path;
    if (args.interval !== undefined) body.interval = args.interval;
    if (args.prune !== undefined) body.prune = args.prune;
    if (args["write-back"] !== undefined) body.write_back = args["write-back"];
    if (args["token-stdin"]) body.token = (await new Response(Bun.stdin.stream()).text()).trim();
    if (args["ssh-key-file"] !== undefined) body.ssh_key = await readOptionFile("ssh-key-file", args["ssh-key-file"]);
    if (args["known-hosts-file"] !== undefined) body.ssh_known_hosts = await readOptionFile("known-hosts-file", args["known-hosts-file"]);
    const s = await connect(args).request<Settings>("PUT", "/api/v1/gitops", { json: body });
    if (args.json) return printJson(s);
    printSettings(s);
  },
});

const deployKey = clientCommand({
  meta: { name: "deploy-key", description: "Make an ssh deploy key on the server and print its public key, for the forge (owner or admin; replaces the key)" },
  args: { ...clientArgs },
  async run({ args }) {
    const s = await connect(args).request<Settings>("POST", "/api/v1/gitops/deploy-key");
    if (args.json) return printJson(s);
    // The key alone on stdout, so it can be piped; what to do with it on stderr.
    console.log(s.ssh_public_key);
    console.error("Add it to the repository's deploy keys (read-only; with write access for write-back), then: crontopus gitops sync");
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
  subCommands: { get, set, "deploy-key": deployKey, disconnect, sync, plan },
});
