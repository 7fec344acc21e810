// tokens list | create | revoke: your API tokens in the token's tenant.
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect } from "./client";
import { formatTime, printJson } from "./output";
import { listCommand, printDone } from "./commands";
import { scopesFlag, wholeNumberFlag } from "./args";

interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  expires_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

const list = listCommand<ApiToken>({
  description: "Your API tokens in this tenant (secrets are never shown again)",
  path: "/api/v1/tokens",
  key: "tokens",
  columns: [
    ["ID", (t) => t.id],
    ["NAME", (t) => t.name],
    ["PREFIX", (t) => t.prefix],
    ["SCOPES", (t) => t.scopes.join(",")],
    ["CREATED", (t) => formatTime(t.created_at)],
    ["LAST USED", (t) => formatTime(t.last_used_at)],
    ["EXPIRES", (t) => formatTime(t.expires_at)],
  ],
});

const create = clientCommand({
  meta: { name: "create", description: "Create an API token and print its secret (shown this once only)" },
  args: {
    name: { type: "string", required: true, description: "A name to recognise the token by" },
    scopes: { type: "string", description: "Comma-separated: read,write,admin (default: all your role allows)" },
    "expires-in-days": { type: "string", description: "Expire after this many days (1-3650; default never)", valueHint: "N" },
    ...clientArgs,
  },
  async run({ args }) {
    const days = args["expires-in-days"] === undefined ? undefined : wholeNumberFlag("--expires-in-days", args["expires-in-days"], 1, 3650);
    const scopes = scopesFlag(args.scopes);
    const created = await connect(args).request<ApiToken & { token: string }>("POST", "/api/v1/tokens", {
      json: { name: args.name, scopes, expires_in_days: days },
    });
    if (args.json) return printJson(created);
    // The secret alone on stdout, so that TOKEN=$(crontopus tokens create …) works.
    console.log(created.token);
    process.stderr.write(`token ${created.name} (${created.id}, ${created.scopes.join(",")}) created; copy the secret now: it is not shown again\n`);
  },
});

const revoke = clientCommand({
  meta: { name: "revoke", description: "Revoke one of your API tokens" },
  args: { id: { type: "positional", required: true, description: "The token's id (see tokens list)", valueHint: "ID" }, ...clientArgs },
  async run({ args }) {
    await connect(args).request("DELETE", `/api/v1/tokens/${encodeURIComponent(args.id)}`);
    printDone(args.json, { id: args.id, revoked: true }, `token ${args.id} revoked`);
  },
});

export default defineCommand({
  meta: { name: "tokens", description: "List, create and revoke your API tokens" },
  subCommands: { list, create, revoke },
});
