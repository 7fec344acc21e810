// namespaces list | create | delete
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect } from "./client";
import { formatTime, printJson, printTable } from "./output";

interface Namespace {
  name: string;
  jobs: number;
  created_at: string;
}

const nameArg = { type: "positional", required: true, description: "Namespace name", valueHint: "NAME" } as const;
const path = (name: string) => `/api/v1/namespaces/${encodeURIComponent(name)}`;

const list = clientCommand({
  meta: { name: "list", description: "Namespaces with their job counts" },
  args: { ...clientArgs },
  async run({ args }) {
    const { namespaces } = await connect(args).request<{ namespaces: Namespace[] }>("GET", "/api/v1/namespaces");
    if (args.json) return printJson({ namespaces });
    printTable(["NAME", "JOBS", "CREATED"], namespaces.map((n) => [n.name, n.jobs, formatTime(n.created_at)]));
  },
});

const create = clientCommand({
  meta: { name: "create", description: "Create a namespace (job writes also create theirs on demand)" },
  args: { name: nameArg, ...clientArgs },
  async run({ args }) {
    const ns = await connect(args).request<Namespace>("POST", "/api/v1/namespaces", { json: { name: args.name } });
    if (args.json) return printJson(ns);
    console.log(`namespace ${ns.name} created`);
  },
});

const remove = clientCommand({
  meta: { name: "delete", description: "Delete an empty namespace" },
  args: { name: nameArg, ...clientArgs },
  async run({ args }) {
    await connect(args).request("DELETE", path(args.name));
    if (args.json) return printJson({ name: args.name, deleted: true });
    console.log(`namespace ${args.name} deleted`);
  },
});

export default defineCommand({
  meta: { name: "namespaces", description: "List, create and delete namespaces" },
  subCommands: { list, create, delete: remove },
});
