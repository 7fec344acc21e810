// namespaces list | create | delete
import { defineCommand } from "citty";
import { clientArgs, clientCommand, connect } from "./client";
import { formatTime } from "./output";
import { listCommand, printDone } from "./commands";

interface Namespace {
  name: string;
  jobs: number;
  created_at: string;
}

const nameArg = { type: "positional", required: true, description: "Namespace name", valueHint: "NAME" } as const;
const path = (name: string) => `/api/v1/namespaces/${encodeURIComponent(name)}`;

const list = listCommand<Namespace>({
  description: "Namespaces with their job counts",
  path: "/api/v1/namespaces",
  key: "namespaces",
  columns: [["NAME", (n) => n.name], ["JOBS", (n) => n.jobs], ["CREATED", (n) => formatTime(n.created_at)]],
});

const create = clientCommand({
  meta: { name: "create", description: "Create a namespace (job writes also create theirs on demand)" },
  args: { name: nameArg, ...clientArgs },
  async run({ args }) {
    const ns = await connect(args).request<Namespace>("POST", "/api/v1/namespaces", { json: { name: args.name } });
    printDone(args.json, ns, `namespace ${ns.name} created`);
  },
});

const remove = clientCommand({
  meta: { name: "delete", description: "Delete an empty namespace" },
  args: { name: nameArg, ...clientArgs },
  async run({ args }) {
    await connect(args).request("DELETE", path(args.name));
    printDone(args.json, { name: args.name, deleted: true }, `namespace ${args.name} deleted`);
  },
});

export default defineCommand({
  meta: { name: "namespaces", description: "List, create and delete namespaces" },
  subCommands: { list, create, delete: remove },
});
