// The channels API over HTTP: alice owns acme and sets up her alert channels, val only views
// them, and charlie (globex) must never see or touch them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createContext } from "../src/app";
import { loadConfig } from "../src/config";
import { migrate, openDb, type Db } from "../src/db";
import { renderApiError } from "../src/http";
import { createLogger } from "../src/log";
import { channelsApi } from "../src/alerts/api";
import { persona, tempDir, type Persona } from "./helpers";

let dir: string;
let db: Db;
let app: { handle(r: Request): Promise<Response> };
let alice: Persona, val: Persona, charlie: Persona;
let receiver: ReturnType<typeof Bun.serve>;
const hits: { path: string; headers: Headers; body: string }[] = [];

beforeAll(async () => {
  dir = tempDir();
  db = openDb(join(dir, "crontopus.db"));
  migrate(db);
  const config = loadConfig({
    CRONTOPUS_DATA_DIR: dir,
    CRONTOPUS_BASE_URL: "http://crontopus.test",
    CRONTOPUS_LOG_LEVEL: "silent",
    // The receiver is on loopback.
    CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true",
  });
  const ctx = createContext(db, config, { log: createLogger("silent") });
  app = new Elysia()
    .onError(({ code, error, request }) => renderApiError(ctx, code, error, request))
    .use(new Elysia({ prefix: "/api/v1" }).use(channelsApi(ctx)));
  alice = await persona(db, "alice", "acme", "owner");
  val = await persona(db, "val", "acme", "viewer");
  charlie = await persona(db, "charlie", "globex", "owner");
  receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      hits.push({ path, headers: req.headers, body: await req.text() });
      return path === "/broken" ? new Response("nope", { status: 500 }) : new Response("ok");
    },
  });
});
afterAll(() => {
  receiver.stop(true);
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function api(path: string, who: Persona, init: { method?: string; json?: unknown } = {}) {
  const headers = new Headers({ authorization: `Bearer ${who.token}` });
  if (init.json !== undefined) headers.set("content-type", "application/json");
  const body = init.json !== undefined ? JSON.stringify(init.json) : undefined;
  return app.handle(new Request(`http://localhost/api/v1${path}`, { method: init.method ?? "GET", headers, body }));
}

interface ChannelJson {
  id: string;
  name: string;
  type: string;
  config: Record<string, unknown>;
}
const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string; details?: { field: string }[] } }).error;

/** One of alice's webhooks, signed with "s3cret", delivering to its own path on the receiver. */
async function createHook(name: string): Promise<ChannelJson> {
  const r = await api("/channels", alice, { method: "POST", json: { name, type: "webhook", config: { url: `http://127.0.0.1:${receiver.port}/${name}`, secret: "s3cret" } } });
  expect(r.status).toBe(201);
  return (await r.json()) as ChannelJson;
}

/** PUTs a hook back with the masked secret it was read with, adding an X-Team header. */
async function putHook(hook: ChannelJson, name: string) {
  return api(`/channels/${hook.id}`, alice, { method: "PUT", json: { name, type: "webhook", config: { ...hook.config, headers: { "X-Team": "ops" } } } });
}

describe("alice manages acme's channels", () => {
  test("creates a signed webhook and gets it back with the secret masked", async () => {
    const r = await api("/channels", alice, {
      method: "POST",
      json: { name: "ops-hook", type: "webhook", config: { url: `http://127.0.0.1:${receiver.port}/hook`, secret: "s3cret" } },
    });
    expect(r.status).toBe(201);
    const hook = (await r.json()) as ChannelJson;
    expect(hook).toMatchObject({ name: "ops-hook", type: "webhook", config: { url: `http://127.0.0.1:${receiver.port}/hook`, secret: "********" } });

    const one = (await (await api(`/channels/${hook.id}`, alice)).json()) as ChannelJson;
    expect(one.config.secret).toBe("********");
    const all = await (await api("/channels", val)).text();
    expect(all).toContain("ops-hook");
    expect(all).not.toContain("s3cret");
  });

  test("a bad config is a 422 naming the field", async () => {
    const r = await api("/channels", alice, { method: "POST", json: { name: "pd", type: "pagerduty", config: { severity: "critical" } } });
    expect(r.status).toBe(422);
    const e = await errorOf(r);
    expect(e.code).toBe("validation_failed");
    expect(e.details![0]!.field).toBe("config.routing_key");

    const shape = await api("/channels", alice, { method: "POST", json: { name: "pd", type: "pagerduty" } });
    expect(shape.status).toBe(422);
    expect((await errorOf(shape)).message).toStartWith("config");
  });

  test("a taken name is a 409", async () => {
    await createHook("taken-hook");
    const r = await api("/channels", alice, { method: "POST", json: { name: "taken-hook", type: "slack", config: { url: "https://hooks.slack.com/x" } } });
    expect(r.status).toBe(409);
  });

  // Which fields are secret and that a masked value sent back keeps the stored one: the service's tests (src/alerts/channels.test.ts).
  test("PUT replaces the channel", async () => {
    const hook = await createHook("put-hook");
    const r = await putHook(hook, "put-webhook");
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ name: "put-webhook", config: { headers: { "X-Team": "ops" } } });
  });

  test("/test reaches the receiver, signed with the kept secret, and shows in the deliveries", async () => {
    const hook = await createHook("tested-hook");
    expect((await putHook(hook, "tested-hook")).status).toBe(200);
    const r = await api(`/channels/${hook.id}/test`, alice, { method: "POST" });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true, code: 200 });
    const mine = hits.filter((h) => h.path === "/tested-hook");
    expect(mine).toHaveLength(1);
    const got = mine[0]!;
    expect(got.headers.get("x-crontopus-event")).toBe("test");
    expect(got.headers.get("x-team")).toBe("ops");
    expect(got.headers.get("x-crontopus-signature")).toBe("sha256=" + new Bun.CryptoHasher("sha256", "s3cret").update(got.body).digest("hex"));
    expect(JSON.parse(got.body)).toMatchObject({ event: "test", tenant: { slug: "acme" }, summary: "Test notification from Crontopus (acme)" });

    const d = (await (await api(`/channels/${hook.id}/deliveries`, val)).json()) as { deliveries: unknown[] };
    expect(d.deliveries).toEqual([expect.objectContaining({ event: "test", status: "sent", attempts: 1, response_code: 200, last_error: null })]);
  });

  test("/test answers 200 with ok:false when the receiver fails", async () => {
    const c = (await (
      await api("/channels", alice, { method: "POST", json: { name: "broken", type: "webhook", config: { url: `http://127.0.0.1:${receiver.port}/broken` } } })
    ).json()) as ChannelJson;
    const r = await api(`/channels/${c.id}/test`, alice, { method: "POST" });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: false, code: 500, error: "HTTP 500: nope" });
  });

  test("val, a viewer, can read but not change or test", async () => {
    const hook = await createHook("viewed-hook");
    expect((await api("/channels", val)).status).toBe(200);
    expect((await api("/channels", val, { method: "POST", json: { name: "v", type: "slack", config: { url: "https://x.test/y" } } })).status).toBe(403);
    expect((await api(`/channels/${hook.id}/test`, val, { method: "POST" })).status).toBe(403);
    expect((await api(`/channels/${hook.id}`, val, { method: "DELETE" })).status).toBe(403);
  });

  test("charlie gets 404 for acme's channel, whatever he tries, and sees none of them", async () => {
    const hook = await createHook("private-hook");
    for (const [method, path, json] of [
      ["GET", `/channels/${hook.id}`],
      ["PUT", `/channels/${hook.id}`, { name: "x", type: "slack", config: { url: "https://x.test/y" } }],
      ["DELETE", `/channels/${hook.id}`],
      ["POST", `/channels/${hook.id}/test`],
      ["GET", `/channels/${hook.id}/deliveries`],
    ] as const) {
      const r = await api(path, charlie, { method, json });
      expect(`${method} ${path} -> ${r.status}`).toBe(`${method} ${path} -> 404`);
    }
    expect(await (await api("/channels", charlie)).json()).toEqual({ channels: [] });
    expect(hits.filter((h) => JSON.parse(h.body).tenant?.slug === "globex")).toEqual([]);
  });

  test("DELETE answers 204 and the channel is gone", async () => {
    const hook = await createHook("doomed-hook");
    expect((await api(`/channels/${hook.id}`, alice, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/channels/${hook.id}`, alice)).status).toBe(404);
  });
});
