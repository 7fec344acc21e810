// channels list | add | test | remove: where alerts go (see docs/alerts.md for each type's config).
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect, repeated, type Client } from "./client";
import { printJson, printTable } from "./output";
import { CliError, UsageError } from "./run";

/** A channel as the channels API returns it: secrets masked. */
interface Channel {
  id: string;
  name: string;
  type: string;
  config: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

const refArg = { type: "positional", required: true, description: "The channel's name or id", valueHint: "NAME|ID" } as const;

/** Where a channel delivers, for the table: its (masked) URL or its addresses. */
function target(c: Channel): string {
  if (Array.isArray(c.config.to)) return c.config.to.join(", ");
  if (typeof c.config.url === "string") return c.config.url;
  return c.type === "pagerduty" ? "PagerDuty Events API v2" : "-";
}

/** A channel by id or name: the API addresses channels by id, people by name. */
async function findChannel(client: Client, ref: string): Promise<Channel> {
  const { channels } = await client.request<{ channels: Channel[] }>("GET", "/api/v1/channels");
  const c = channels.find((c) => c.id === ref) ?? channels.find((c) => c.name === ref);
  if (!c) throw new CliError(`channel ${ref} not found`);
  return c;
}

const list = clientCommand({
  meta: { name: "list", description: "List alert channels, secrets masked" },
  args: { ...clientArgs },
  async run({ args }) {
    const { channels } = await connect(args).request<{ channels: Channel[] }>("GET", "/api/v1/channels");
    if (args.json) return printJson({ channels });
    printTable(
      ["NAME", "TYPE", "TARGET", "ID"],
      channels.map((c) => [c.name, c.type, target(c), c.id]),
    );
  },
});

/** The channel's config from the flags, on top of --config. */
export function buildConfig(type: string, flags: { url?: string; secret?: string; to: string[]; routingKey?: string; config?: string }) {
  let config: Record<string, unknown> = {};
  if (flags.config !== undefined) {
    try {
      config = JSON.parse(flags.config);
    } catch {
      throw new UsageError("--config: not valid JSON");
    }
    if (typeof config !== "object" || config === null || Array.isArray(config)) throw new UsageError("--config: expected a JSON object");
  }
  if (flags.url !== undefined) config.url = flags.url;
  if (flags.secret !== undefined) {
    // The one secret of each type that has one besides its URL.
    if (type === "webhook") config.secret = flags.secret;
    else if (type === "ntfy") config.token = flags.secret;
    else throw new UsageError(`--secret: only webhook (signing secret) and ntfy (access token) channels take one`);
  }
  if (flags.to.length) config.to = flags.to;
  if (flags.routingKey !== undefined) config.routing_key = flags.routingKey;
  return config;
}

const add = clientCommand({
  meta: { name: "add", description: "Create an alert channel" },
  args: {
    name: { type: "string", required: true, description: "Unique name; jobs list their channels by it", valueHint: "NAME" },
    type: { type: "string", required: true, description: "webhook, slack, discord, teams, email, pagerduty or ntfy", valueHint: "TYPE" },
    url: { type: "string", description: "Where to send: the webhook, Slack/Discord/Teams incoming webhook or ntfy topic URL", valueHint: "URL" },
    secret: { type: "string", description: "Webhook signing secret, or ntfy access token", valueHint: "SECRET" },
    to: { type: "string", description: "Email address; repeat for several", valueHint: "EMAIL" },
    "routing-key": { type: "string", description: "PagerDuty integration (routing) key", valueHint: "KEY" },
    config: { type: "string", description: "Further config as a JSON object (e.g. headers, severity, priority); flags win", valueHint: "JSON" },
    ...clientArgs,
  },
  async run({ args, rawArgs }) {
    const config = buildConfig(args.type, {
      url: args.url,
      secret: args.secret,
      to: repeated(rawArgs, ["to"]),
      routingKey: args["routing-key"],
      config: args.config,
    });
    const channel = await connect(args).request<Channel>("POST", "/api/v1/channels", { json: { name: args.name, type: args.type, config } });
    if (args.json) return printJson(channel);
    console.log(`channel ${channel.name} created (${channel.id})`);
  },
});

const test = clientCommand({
  meta: { name: "test", description: "Send a test message through a channel now" },
  args: { ref: refArg, ...clientArgs },
  async run({ args }) {
    const client = connect(args);
    const channel = await findChannel(client, args.ref);
    const r = await client.request<{ ok: boolean; code?: number; error?: string }>("POST", `/api/v1/channels/${encodeURIComponent(channel.id)}/test`);
    if (args.json) printJson(r);
    const code = r.code !== undefined ? ` (HTTP ${r.code})` : "";
    if (!r.ok) throw new CliError(`test message to ${channel.name} failed${code}: ${r.error ?? "no reason given"}`);
    if (!args.json) console.log(`test message sent to ${channel.name}${code}`);
  },
});

const remove = clientCommand({
  meta: { name: "remove", description: "Delete a channel and its delivery history" },
  args: { ref: refArg, ...clientArgs },
  async run({ args }) {
    const client = connect(args);
    const channel = await findChannel(client, args.ref);
    await client.request("DELETE", `/api/v1/channels/${encodeURIComponent(channel.id)}`);
    if (args.json) return printJson({ id: channel.id, name: channel.name, deleted: true });
    console.log(`channel ${channel.name} removed`);
  },
});

export default defineCommand({
  meta: { name: "channels", description: "List, add, test and remove alert channels" },
  subCommands: { list, add, test, remove },
});
