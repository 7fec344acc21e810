// What an operator reads of the traffic: a line per API or console request, and pings and
// health probes summed up, not one line each.
import { beforeEach, describe, expect, test } from "bun:test";
import { loadConfig } from "./config";
import { migrate, openDb, type Db } from "./db";
import { createApp, createContext } from "./app";
import { createLogger } from "./log";
import { putJob } from "./jobs/jobs";
import { findTenant } from "./tenants/tenants";
import { persona, tempDir, type Persona } from "../test/helpers";
import type { AppContext } from "./context";

type Line = Record<string, any>;
let db: Db;
let ctx: AppContext;
let app: ReturnType<typeof createApp>;
let alice: Persona;
let lines: Line[];

beforeEach(async () => {
  db = openDb(":memory:");
  migrate(db);
  lines = [];
  ctx = createContext(db, loadConfig({ CRONTOPUS_DATA_DIR: tempDir(), CRONTOPUS_PING_RATE_LIMIT: "0" }), { log: createLogger("debug", (l) => lines.push(JSON.parse(l))) });
  app = createApp(ctx);
  alice = await persona(db, "alice", "acme", "owner");
});

/** A request through the app; its line is written a turn of the event loop after the answer. */
async function get(path: string, token?: string): Promise<Response> {
  const r = await app.handle(new Request(`http://localhost${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }));
  await new Promise((resolve) => setImmediate(resolve));
  return r;
}
const requestLines = () => lines.filter((l) => l.msg === "request");

describe("request lines", () => {
  test("name the request id, method, route pattern, status, latency and the caller's tenant", async () => {
    putJob(db, findTenant(db, "acme")!.id, "ops", "nightly", { schedule: "@daily" }, Date.now());
    expect((await get("/api/v1/jobs/ops/nightly", alice.token)).status).toBe(200);
    expect((await get("/api/v1/jobs/ops/missing", alice.token)).status).toBe(404);
    expect((await get("/api/v1/jobs", "ctp_not-a-real-token")).status).toBe(401);
    const [found, missing, refused] = requestLines();
    expect(found).toMatchObject({ level: "info", method: "GET", route: "/api/v1/jobs/:namespace/:name", status: 200, tenant: "acme" });
    expect(found!.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof found!.ms).toBe("number");
    expect(missing).toMatchObject({ route: "/api/v1/jobs/:namespace/:name", status: 404, tenant: "acme" });
    expect(refused).toMatchObject({ route: "/api/v1/jobs", status: 401 });
    expect(refused!.tenant).toBeUndefined();
    expect(new Set(requestLines().map((l) => l.request_id)).size).toBe(3);
  });

  test("an unknown URL is logged without its path, which may hold a token", async () => {
    expect((await get("/api/v1/invitations/cti_secretsecretsecretsecret/nope")).status).toBe(404);
    expect(requestLines()).toEqual([expect.objectContaining({ route: "(unmatched)", status: 404 })]);
    expect(JSON.stringify(lines)).not.toContain("secretsecret");
  });

  test("a 500 quotes the id of its request line, and the error line names the route", async () => {
    db.exec("DROP TABLE namespaces");
    const r = await get("/api/v1/namespaces", alice.token);
    expect(r.status).toBe(500);
    const { error } = (await r.json()) as { error: { message: string } };
    const line = requestLines()[0]!;
    expect(line).toMatchObject({ level: "warn", route: "/api/v1/namespaces", status: 500 });
    expect(error.message).toContain(line.request_id);
    expect(lines.find((l) => l.msg === "unhandled error")).toMatchObject({ request_id: line.request_id, route: "/api/v1/namespaces" });
  });

  test("console pages are logged with their route, status and the viewer's tenant", async () => {
    expect((await get("/jobs")).status).toBe(303);
    const { sessionId } = await ctx.sessions.create(alice.id, findTenant(db, "acme")!.id);
    const signedIn = await app.handle(new Request("http://localhost/jobs/ops/nightly", { headers: { cookie: `${ctx.sessions.cookieName}=${sessionId}` } }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(signedIn.status).toBe(404);
    expect(requestLines()).toEqual([
      expect.objectContaining({ method: "GET", route: "/jobs", status: 303 }),
      expect.objectContaining({ method: "GET", route: "/jobs/:namespace/:name", status: 404, tenant: "acme" }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(sessionId);
  });
});

describe("pings and health probes", () => {
  test("1,000 pings and 10 probes write no request line: one summary line each, with counts by status", async () => {
    const job = putJob(db, findTenant(db, "acme")!.id, "ops", "busy", { schedule: "@every 1m" }, Date.now()).job;
    for (let i = 0; i < 995; i++) expect((await get(`/ping/${job.ping_token}`)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await get(`/ping/unknown-token-${i}`)).status).toBe(404);
    for (let i = 0; i < 10; i++) await get("/health");
    expect(requestLines()).toEqual([]);
    ctx.requests.stop();
    const summaries = lines.filter((l) => l.msg === "requests");
    expect(summaries).toHaveLength(2);
    expect(summaries.find((l) => l.route === "/ping/*")).toMatchObject({ count: 1000, statuses: { 200: 995, 404: 5 } });
    expect(summaries.find((l) => l.route === "/health")).toMatchObject({ count: 10, statuses: { 200: 10 } });
    expect(JSON.stringify(lines)).not.toContain(job.ping_token);
  });

  test("the pings' fast path (a Bun route of its own) is counted as well", async () => {
    const job = putJob(db, findTenant(db, "acme")!.id, "ops", "fast", { schedule: "@every 1m" }, Date.now()).job;
    const server = app.listen({ port: 0, hostname: "127.0.0.1" }).server!;
    try {
      for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${server.port}/ping/${job.ping_token}/start`)).status).toBe(200);
    } finally {
      await server.stop(true);
    }
    ctx.requests.flush();
    expect(lines.filter((l) => l.msg === "requests")).toEqual([expect.objectContaining({ route: "/ping/*", count: 20, statuses: { 200: 20 } })]);
  });
});
