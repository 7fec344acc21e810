// tenants list | create
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect } from "./client";
import { printJson, printTable } from "./output";

interface Tenant {
  slug: string;
  name: string;
  role: string;
  current?: boolean;
}

const list = clientCommand({
  meta: { name: "list", description: "Tenants you belong to, with your role (* marks the token's tenant)" },
  args: { ...clientArgs },
  async run({ args }) {
    const { tenants } = await connect(args).request<{ tenants: Tenant[] }>("GET", "/api/v1/tenants");
    if (args.json) return printJson({ tenants });
    printTable(
      ["", "SLUG", "NAME", "ROLE"],
      tenants.map((t) => [t.current ? "*" : " ", t.slug, t.name, t.role]),
    );
  },
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
    if (args.json) return printJson(tenant);
    console.log(`tenant ${tenant.slug} created; you are its owner`);
  },
});

export default defineCommand({
  meta: { name: "tenants", description: "List and create tenants" },
  subCommands: { list, create },
});
