// tenants list | create
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect } from "./client";
import { listCommand, printDone } from "./commands";

interface Tenant {
  slug: string;
  name: string;
  role: string;
  current?: boolean;
}

const list = listCommand<Tenant>({
  description: "Tenants you belong to, with your role (* marks the token's tenant)",
  path: "/api/v1/tenants",
  key: "tenants",
  columns: [["", (t) => (t.current ? "*" : " ")], ["SLUG", (t) => t.slug], ["NAME", (t) => t.name], ["ROLE", (t) => t.role]],
});

const create = clientCommand({
  meta: { name: "create", description: "Create a tenant; you become its owner (a token needs the admin scope)" },
  args: {
    slug: { type: "positional", required: true, description: "Short name: lowercase letters, digits and dashes", valueHint: "SLUG" },
    name: { type: "string", description: "Display name (default: the slug)" },
    ...clientArgs,
  },
  async run({ args }) {
    const tenant = await connect(args).request<Tenant>("POST", "/api/v1/tenants", { json: { slug: args.slug, name: args.name } });
    printDone(args.json, tenant, `tenant ${tenant.slug} created; you are its owner`);
  },
});

export default defineCommand({
  meta: { name: "tenants", description: "List and create tenants" },
  subCommands: { list, create },
});
