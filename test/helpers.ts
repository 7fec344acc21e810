// Test fixtures: a real server on a free port over a temporary data directory, and the personas.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config";
import { startServer, type RunningServer } from "../src/server";
import { createUser } from "../src/auth/identity";
import { createTenant, findTenant } from "../src/tenants/tenants";
import { addMember } from "../src/tenants/members";
import { authenticateToken, createApiToken } from "../src/auth/apitokens";
import { createSessions } from "../src/auth/sessions";
import { migrate, openDb, type Db } from "../src/db";
import { createLogger } from "../src/log";
import type { Scope, TenantPrincipal } from "../src/auth/principal";

export const ROOT = join(import.meta.dir, "..");
export const BUN = process.execPath;
export const MAIN = join(ROOT, "src/main.ts");

export function tempDir(prefix = "crontopus-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  return port;
}

export interface TestServer extends RunningServer {
  dataDir: string;
  db: Db;
  /** fetch relative to the server, with JSON helpers. */
  api(path: string, init?: RequestInit & { token?: string; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * A clock a test moves by hand, given to the server as its `now`: tests about time (deadlines,
 * timeouts, grace) advance it instead of sleeping, so they neither wait nor depend on how busy
 * the machine is. It starts at the real time and stands still; `running` keeps it going with the
 * real one (for tests where real processes take real time), moved ahead by every `advance`.
 */
export class TestClock {
  private readonly start = Date.now();
  private offset = 0;
  constructor(private readonly opts: { running?: boolean } = {}) {}
  readonly now = () => (this.opts.running ? Date.now() : this.start) + this.offset;
  advance(ms: number): number {
    this.offset += ms;
    return this.now();
  }
}

export async function startTestServer(env: Record<string, string> = {}, opts: { clock?: TestClock; eventWindowBytes?: number } = {}): Promise<TestServer> {
  const dataDir = env.CRONTOPUS_DATA_DIR ?? tempDir();
  const port = await freePort();
  const config = loadConfig({
    CRONTOPUS_PORT: String(port),
    CRONTOPUS_HOST: "127.0.0.1",
    CRONTOPUS_DATA_DIR: dataDir,
    CRONTOPUS_BASE_URL: `http://127.0.0.1:${port}`,
    CRONTOPUS_LOG_LEVEL: "error",
    ...env,
  });
  const server = await startServer(config, { log: createLogger(process.env.TEST_LOG ? "debug" : "silent"), now: opts.clock?.now, eventWindowBytes: opts.eventWindowBytes });
  return {
    ...server,
    dataDir,
    db: server.ctx.db,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.token) headers.set("authorization", `Bearer ${init.token}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set("content-type", "application/json");
        body = JSON.stringify(init.json);
      }
      return fetch(server.url + path, { ...init, headers, body });
    },
    async close() {
      await server.stop();
      if (!env.CRONTOPUS_DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const PASSWORD = "correct horse battery";

export interface Persona {
  id: string;
  email: string;
  token: string;
}

/** Creates a user with a role in a tenant (creating the tenant if needed) and an API token. */
export async function persona(
  db: Db,
  name: string,
  tenantSlug: string,
  role: "owner" | "admin" | "member" | "viewer" = "owner",
  scopes?: Scope[],
): Promise<Persona> {
  const email = `${name}@example.com`;
  const user = await createUser(db, { email, password: PASSWORD, name: name[0]!.toUpperCase() + name.slice(1) });
  let tenant = findTenant(db, tenantSlug);
  if (!tenant) {
    tenant = createTenant(db, { slug: tenantSlug }, role === "owner" ? user.id : null);
    if (role !== "owner") await addMember(db, tenant.id, "owner", { email, role });
  } else {
    await addMember(db, tenant.id, "owner", { email, role });
  }
  const { token } = createApiToken(db, tenant.id, user.id, { name: `${name}-test`, scopes });
  return { id: user.id, email, token };
}

/** For service tests: a fresh in-memory database in which `name` (e.g. alice) owns each tenant of `slugs`. */
export async function ownerOf(name: string, slugs: string[], now = Date.now()) {
  const db = openDb(":memory:");
  migrate(db);
  const user = await createUser(db, { email: `${name}@example.com`, password: PASSWORD, name: name[0]!.toUpperCase() + name.slice(1) });
  const tenants: Record<string, string> = {};
  for (const slug of slugs) tenants[slug] = createTenant(db, { slug }, user.id, now).id;
  return { db, userId: user.id, tenants };
}

/** The caller a service receives from the user's console session in a tenant. */
export async function sessionCaller(db: Db, userId: string, tenantId: string): Promise<TenantPrincipal> {
  const sessions = createSessions(db, { secure: false });
  const { principal } = await sessions.validate((await sessions.create(userId, tenantId)).sessionId);
  return principal as TenantPrincipal;
}

/** The caller a service receives from a new API token of the user, with these scopes. */
export function tokenCaller(db: Db, userId: string, tenantId: string, scopes: Scope[], now = Date.now()): TenantPrincipal {
  const { token } = createApiToken(db, tenantId, userId, { name: `with ${scopes.join("+")}`, scopes }, null, now);
  return authenticateToken(db, token, now) as TenantPrincipal;
}

/** Runs the CLI as a user would, returning its exit code and output. */
export async function cli(args: string[], env: Record<string, string> = {}, stdin?: string) {
  const proc = Bun.spawn([BUN, MAIN, ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdin: stdin !== undefined ? new TextEncoder().encode(stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/**
 * `crontopus serve` as a process of its own on a free port (`main`: another checkout's
 * src/main.ts), once /health answers. Its stderr is piped: the log, when asked for.
 */
export async function spawnServer(dataDir: string, env: Record<string, string> = {}, main = MAIN) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = Bun.spawn([BUN, main, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir], {
    env: { ...process.env, CRONTOPUS_LOG_LEVEL: "error", CRONTOPUS_BASE_URL: url, ...env },
    stdout: "ignore",
    stderr: "pipe",
  });
  for (let i = 0; i < 800; i++) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
    try {
      if ((await fetch(url + "/health")).ok) return { url, port, proc };
    } catch {}
    await Bun.sleep(25);
  }
  proc.kill("SIGKILL");
  throw new Error("server did not come up in 20 s");
}
