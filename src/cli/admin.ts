// Admin commands work on the data directory directly, through the same service functions as the API.
import { command, scopesFlag, wholeNumberFlag } from "./args";
import { configFrom, serverArgs } from "./common";
import { openDb, type Db } from "../db";
import { migrateWithBackup } from "../backups/backups";
import { createUser, findUserByEmail } from "../auth/identity";
import { checkSlug, createTenant, findTenant } from "../tenants/tenants";
import { addMember, checkRole } from "../tenants/members";
import { createApiToken } from "../auth/apitokens";
import { createdTokenJson } from "../auth/json";
import { fail } from "./run";

async function withDb<T>(args: Record<string, unknown>, fn: (db: Db) => Promise<T> | T): Promise<T> {
  const config = configFrom(args);
  const db = openDb(config.dbPath, { sync: config.syncMode });
  try {
    migrateWithBackup(db, config.dbPath, config.dataDir);
    return await fn(db);
  } finally {
    db.close();
  }
}

async function readPasswordFromStdin(): Promise<string> {
  const text = await Bun.stdin.text();
  return text.replace(/\r?\n$/, "");
}

const createUserCmd = command({
  meta: { name: "create-user", description: "Create a user (and the tenant, when --tenant names a new one)" },
  args: {
    ...serverArgs,
    email: { type: "string", required: true, description: "Email address (the login)" },
    password: { type: "string", description: "Password (at least 8 characters); '-' or omitted reads it from stdin" },
    name: { type: "string", description: "Display name" },
    tenant: { type: "string", description: "Tenant slug to join (created if missing)", valueHint: "SLUG" },
    role: { type: "string", description: "Role in the tenant: owner, admin, member, viewer (default owner)" },
    operator: { type: "boolean", description: "Grant access to the internal admin" },
    json: { type: "boolean", description: "Print JSON" },
  },
  async run({ args }) {
    const role = checkRole("--role", args.role ?? "owner");
    const password = args.password && args.password !== "-" ? args.password : await readPasswordFromStdin();
    const out = await withDb(args, async (db) => {
      const tenant = args.tenant ? findTenant(db, args.tenant) : null;
      if (args.tenant && !tenant) {
        // A new tenant needs an owner: this user, unless another role was asked for. Refused before the user is made.
        if (role !== "owner") fail(`tenant ${args.tenant} does not exist; create it with an owner first (--role owner)`);
        checkSlug("--tenant", args.tenant);
      }
      const user = await createUser(db, { email: args.email, password, name: args.name, isOperator: args.operator });
      // The operator acts with an owner's rights; addMember's own rules hold all the same.
      if (tenant) await addMember(db, tenant.id, "owner", { email: user.email, role });
      else if (args.tenant) createTenant(db, { slug: args.tenant }, user.id);
      return { user, tenant: args.tenant ? { slug: args.tenant, role } : null };
    });
    if (args.json) console.log(JSON.stringify(out));
    else console.log(`created user ${out.user.email}${out.tenant ? ` (${out.tenant.role} of ${out.tenant.slug})` : ""}${args.operator ? ", operator" : ""}`);
  },
});

const createTokenCmd = command({
  meta: { name: "create-token", description: "Create an API token for a user in a tenant and print it" },
  args: {
    ...serverArgs,
    email: { type: "string", required: true, description: "The token's user" },
    tenant: { type: "string", required: true, description: "The token's tenant", valueHint: "SLUG" },
    name: { type: "string", required: true, description: "A name to recognise the token by" },
    scopes: { type: "string", description: "Comma-separated: read,write,admin (default: all the role allows)" },
    "expires-in-days": { type: "string", description: "Expire after this many days (1-3650; default never)", valueHint: "N" },
    json: { type: "boolean", description: "Print JSON" },
  },
  async run({ args }) {
    const days = args["expires-in-days"] === undefined ? undefined : wholeNumberFlag("--expires-in-days", args["expires-in-days"], 1, 3650);
    const scopes = scopesFlag(args.scopes);
    const created = await withDb(args, (db) => {
      const user = findUserByEmail(db, args.email) ?? fail(`no user with email ${args.email}`);
      const tenant = findTenant(db, args.tenant) ?? fail(`no tenant ${args.tenant}`);
      return createApiToken(db, tenant.id, user.id, { name: args.name, scopes, expires_in_days: days });
    });
    if (args.json) console.log(JSON.stringify(createdTokenJson(created)));
    else console.log(created.token);
  },
});

export default command({
  meta: { name: "admin", description: "Administer the data directory directly (users, tokens)" },
  subCommands: { "create-user": createUserCmd, "create-token": createTokenCmd },
});
