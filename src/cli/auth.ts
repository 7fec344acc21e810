// auth login | logout | whoami: a token for this machine, kept in the config file.
import { defineCommand } from "citty";
import { hostname } from "node:os";
import { ApiError, clientArgs, clientCommand, clientFor, configPath, connect, readConfigFile, writeConfigFile } from "./client";
import { printFields, printJson } from "./output";
import { printDone } from "./commands";
import { CliError, fail, UsageError } from "./run";

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") {
          finish();
          return resolve(value);
        }
        if (ch === "\u0003" || ch === "\u0004") {
          finish();
          return reject(new CliError("cancelled"));
        }
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

async function readPassword(flag: string | undefined): Promise<string> {
  if (flag && flag !== "-") return flag;
  if (flag === "-" || !process.stdin.isTTY) {
    const text = (await Bun.stdin.text()).replace(/\r?\n$/, "");
    if (!text) throw new UsageError("no password on stdin");
    return text;
  }
  return promptHidden("Password: ");
}

function readEmail(flag: string | undefined): string {
  if (flag) return flag;
  // Bun's prompt() reads a line from stdin; only ask when a person is there to answer.
  const answer = process.stdin.isTTY ? prompt("Email:") : null;
  if (!answer) throw new UsageError("missing --email");
  return answer.trim();
}

interface LoginAnswer {
  user: { email: string };
  tenants: { slug: string; name: string; role: string }[];
}

interface CreatedToken {
  id: string;
  name: string;
  scopes: string[];
  token: string;
}

const login = clientCommand({
  meta: { name: "login", description: "Log in with email and password; saves a new API token for this machine in the config file" },
  args: {
    server: clientArgs.server,
    email: { type: "string", description: "Your email address (asked for on a terminal when omitted)" },
    password: { type: "string", description: "Your password; '-' or omitted reads it from stdin (asked for on a terminal)" },
    tenant: { type: "string", description: "The tenant the token acts in (default: your first tenant)", valueHint: "SLUG" },
    json: clientArgs.json,
  },
  async run({ args }) {
    const { server } = connect({ server: args.server }, { needToken: false });
    const email = readEmail(args.email);
    const password = await readPassword(args.password);
    const anonymous = clientFor(server, null);

    const answer = await anonymous.send<LoginAnswer>("POST", "/api/v1/auth/login", { json: { email, password } });
    const cookie = answer.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ");
    if (!cookie) throw new CliError(`${server} did not start a session; is it a Crontopus server?`);
    const session = { headers: { cookie } };
    try {
      const tenants = answer.data.tenants;
      if (tenants.length === 0) throw new CliError(`${email} belongs to no tenant yet; ask a tenant owner to add you`);
      let tenant = tenants[0]!;
      if (args.tenant && args.tenant !== tenant.slug) {
        tenant = tenants.find((t) => t.slug === args.tenant) ?? fail(`${email} is not a member of tenant ${args.tenant}`);
        await anonymous.request("POST", "/api/v1/auth/switch-tenant", { ...session, json: { tenant: tenant.slug } });
      }
      // No scopes asked for: the token gets all the role allows.
      const created = await anonymous.request<CreatedToken>("POST", "/api/v1/tokens", { ...session, json: { name: `cli@${hostname()}` } });
      const config = { ...readConfigFile(), server, token: created.token };
      const path = writeConfigFile(config);
      const done = { server, email: answer.data.user.email, tenant: tenant.slug, role: tenant.role, token: { id: created.id, name: created.name, scopes: created.scopes }, config: path };
      printDone(args.json, done, `logged in to ${server} as ${answer.data.user.email} (${tenant.role} of ${tenant.slug}); token saved to ${path}`);
    } finally {
      // The session was only needed to mint the token.
      await anonymous.request("POST", "/api/v1/auth/logout", session).catch(() => {});
    }
  },
});

const logout = clientCommand({
  meta: { name: "logout", description: "Revoke the token on the server and remove it from the config file" },
  args: { ...clientArgs },
  async run({ args }) {
    const client = connect(args);
    let note = "token revoked";
    try {
      await client.request("POST", "/api/v1/auth/logout");
    } catch (e) {
      // An unknown or expired token is as logged out as it gets; forget it all the same.
      if (!(e instanceof ApiError && e.status === 401)) throw e;
      note = "the token was no longer valid";
    }
    const config = readConfigFile();
    let removed = false;
    if (config.token && config.token === client.token) {
      delete config.token;
      writeConfigFile(config);
      removed = true;
    }
    const done = { server: client.server, revoked: note === "token revoked", removed_from_config: removed };
    printDone(args.json, done, `logged out of ${client.server}: ${note}${removed ? `, removed from ${configPath()}` : ""}`);
  },
});

interface Me {
  user: { id: string; email: string; name: string; is_operator: boolean };
  tenant: { slug: string; name: string } | null;
  role: string | null;
  scopes: string[];
  auth: string;
}

const whoami = clientCommand({
  meta: { name: "whoami", description: "Show who the token belongs to: email, tenant, role and scopes" },
  args: { ...clientArgs },
  async run({ args }) {
    const client = connect(args);
    const me = await client.request<Me>("GET", "/api/v1/me");
    if (args.json) return printJson(me);
    printFields([
      ["email", me.user.email],
      ["name", me.user.name],
      ["tenant", me.tenant ? (me.tenant.name && me.tenant.name !== me.tenant.slug ? `${me.tenant.slug} (${me.tenant.name})` : me.tenant.slug) : null],
      ["role", me.role],
      ["scopes", me.scopes.join(", ")],
      ["operator", me.user.is_operator ? "yes" : "no"],
      ["server", client.server],
    ]);
  },
});

export default defineCommand({
  meta: { name: "auth", description: "Log in and out of a Crontopus server" },
  subCommands: { login, logout, whoami },
});
