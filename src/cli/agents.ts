// agents list | get | delete | adopt, and enroll-tokens list | create | revoke: managing
// agents from anywhere, through the REST API (the agent itself is `crontopus agent …`).
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect, parseJobRef, repeated, type Client } from "./client";
import { formatTime, printFields, printJson, printTable } from "./output";
import { CliError, UsageError } from "./run";
import { listCommand } from "./commands";
import type { AgentDetailJson as AgentDetail, AgentJson as Agent, EnrollmentTokenJson as EnrollmentToken } from "../agents/json";

const refArg = { type: "positional", required: true, description: "The agent's name or id", valueHint: "AGENT" } as const;
const labelText = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(",");
const agentPath = (ref: string) => `/api/v1/agents/${encodeURIComponent(ref)}`;

const list = clientCommand({
  meta: { name: "list", description: "List enrolled agents" },
  args: { status: { type: "string", description: "online or offline", valueHint: "STATUS" }, ...clientArgs },
  async run({ args }) {
    const { agents } = await connect(args).request<{ agents: Agent[] }>("GET", `/api/v1/agents${args.status ? `?status=${encodeURIComponent(args.status)}` : ""}`);
    if (args.json) return printJson({ agents });
    printTable(
      ["NAME", "STATUS", "HOST", "PLATFORM", "LAST SEEN", "LABELS", "ID"],
      agents.map((a) => [a.name, a.status, a.hostname, `${a.platform}/${a.arch}`, formatTime(a.last_seen_at), labelText(a.labels), a.id]),
    );
  },
});

const get = clientCommand({
  meta: { name: "get", description: "One agent with its jobs and the unmanaged entries found on its host" },
  args: { ref: refArg, ...clientArgs },
  async run({ args }) {
    const a = await connect(args).request<AgentDetail>("GET", agentPath(args.ref));
    if (args.json) return printJson(a);
    printFields([
      ["Name", a.name],
      ["ID", a.id],
      ["Status", `${a.status} since ${formatTime(a.status_since)}`],
      ["Host", `${a.hostname} (${a.platform}/${a.arch}, ${a.scheduler})`],
      ["Version", a.version],
      ["Labels", labelText(a.labels)],
      ["Heartbeat", `every ${a.interval_s}s, last ${formatTime(a.last_seen_at)}`],
      ["Last sync", formatTime(a.last_sync_at)],
    ]);
    console.log("\nJobs");
    printTable(["JOB", "STATE", "JOB STATUS", "MESSAGE"], a.jobs.map((j) => [j.job, j.state, j.job_status, j.message]));
    console.log("\nDiscovered (not managed)");
    printTable(["ENTRY", "USER", "SCHEDULE", "COMMAND", "ADOPTED"], a.discovered.map((d) => [d.id, d.user, d.schedule, d.command, d.adopted_job_id ? "yes" : ""]));
  },
});

const del = clientCommand({
  meta: { name: "delete", description: "Forget an agent and revoke its token (the host keeps its entries until `agent uninstall`)" },
  args: { ref: refArg, ...clientArgs },
  async run({ args }) {
    await connect(args).request("DELETE", agentPath(args.ref));
    if (args.json) return printJson({ agent: args.ref, deleted: true });
    console.log(`agent ${args.ref} deleted`);
  },
});

const adopt = clientCommand({
  meta: { name: "adopt", description: "Turn a discovered crontab line into a managed job" },
  args: {
    ref: refArg,
    entry: { type: "positional", required: true, description: "The discovered entry's id (agents get AGENT)", valueHint: "ENTRY" },
    job: { type: "positional", required: true, description: "The new job: namespace/name, or name in default", valueHint: "JOB" },
    timezone: { type: "string", description: "The zone the host's cron reads the line in (default UTC)", valueHint: "ZONE" },
    ...clientArgs,
  },
  async run({ args }) {
    const { namespace, name } = parseJobRef(args.job);
    const job = await connect(args).request<{ namespace: string; name: string; id: string }>(
      "POST",
      `${agentPath(args.ref)}/discovered/${encodeURIComponent(args.entry)}/adopt`,
      { json: { namespace, name, ...(args.timezone ? { timezone: args.timezone } : {}) } },
    );
    if (args.json) return printJson(job);
    console.log(`adopted as ${job.namespace}/${job.name} (${job.id}); the agent swaps the line on its next pass`);
  },
});

export const agents = defineCommand({
  meta: { name: "agents", description: "List, inspect, delete agents and adopt their discovered entries" },
  subCommands: { list, get, delete: del, adopt },
});

// ---------------------------------------------------------------------------------------

async function findToken(client: Client, ref: string): Promise<EnrollmentToken> {
  const { enrollment_tokens } = await client.request<{ enrollment_tokens: EnrollmentToken[] }>("GET", "/api/v1/enrollment-tokens");
  const t = enrollment_tokens.find((t) => t.id === ref) ?? enrollment_tokens.filter((t) => t.name === ref || t.prefix === ref)[0];
  if (!t) throw new CliError(`enrollment token ${ref} not found`);
  return t;
}

const tokensList = listCommand<EnrollmentToken>({
  description: "List enrollment tokens",
  path: "/api/v1/enrollment-tokens",
  key: "enrollment_tokens",
  columns: [
    ["NAME", (t) => t.name],
    ["PREFIX", (t) => t.prefix],
    ["USES", (t) => `${t.uses}/${t.max_uses ?? "∞"}`],
    ["EXPIRES", (t) => formatTime(t.expires_at)],
    ["USABLE", (t) => (t.usable ? "yes" : "no")],
    ["LABELS", (t) => labelText(t.labels)],
    ["ID", (t) => t.id],
  ],
});

const tokensCreate = clientCommand({
  meta: { name: "create", description: "Create an enrollment token (printed once)" },
  args: {
    name: { type: "string", required: true, description: "What it is for", valueHint: "NAME" },
    label: { type: "string", description: "key=value label for every agent enrolled with it; repeat for several", valueHint: "KEY=VALUE" },
    "max-uses": { type: "string", description: "Enrollments it allows (default: unlimited)", valueHint: "N" },
    "expires-in-days": { type: "string", description: "Days until it expires (default: never)", valueHint: "DAYS" },
    ...clientArgs,
  },
  async run({ args, rawArgs }) {
    const labels: Record<string, string> = {};
    for (const v of repeated(rawArgs, ["label"])) {
      const i = v.indexOf("=");
      if (i <= 0) throw new UsageError(`--label: expected key=value, got "${v}"`);
      labels[v.slice(0, i)] = v.slice(i + 1);
    }
    const num = (flag: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${flag}: expected a whole number of at least 1, got "${v}"`);
      return Number(v);
    };
    const body = { name: args.name, labels, max_uses: num("max-uses", args["max-uses"]), expires_in_days: num("expires-in-days", args["expires-in-days"]) };
    const r = await connect(args).request<{ token: string; enrollment_token: EnrollmentToken }>("POST", "/api/v1/enrollment-tokens", { json: body });
    if (args.json) return printJson(r);
    console.log(r.token);
    process.stderr.write(`enrollment token ${r.enrollment_token.name} created (${r.enrollment_token.id}); it is shown only once\n`);
  },
});

const tokensRevoke = clientCommand({
  meta: { name: "revoke", description: "Revoke an enrollment token (agents enrolled with it keep working)" },
  args: { ref: { type: "positional", required: true, description: "The token's id, name or prefix", valueHint: "TOKEN" }, ...clientArgs },
  async run({ args }) {
    const client = connect(args);
    const t = await findToken(client, args.ref);
    await client.request("DELETE", `/api/v1/enrollment-tokens/${encodeURIComponent(t.id)}`);
    if (args.json) return printJson({ id: t.id, revoked: true });
    console.log(`enrollment token ${t.name} revoked`);
  },
});

export const enrollTokens = defineCommand({
  meta: { name: "enroll-tokens", description: "List, create and revoke enrollment tokens for agents" },
  subCommands: { list: tokensList, create: tokensCreate, revoke: tokensRevoke },
});

export default agents;
