// The API document: alice opens /api/docs in a real browser, and the document it loads is
// complete (every answer and body described), honest (real answers fit it) and lints clean.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { explain } from "../src/validation";
import { persona, ROOT, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";

type Json = Record<string, any>;
let s: TestServer;
let alice: Persona;
let doc: Json;

beforeAll(async () => {
  s = await startTestServer({ CRONTOPUS_PING_BODY_LIMIT: "20000" });
  alice = await persona(s.db, "alice", "acme", "owner");
  doc = (await (await s.api("/api/openapi.json")).json()) as Json;
});
afterAll(() => s.close());

const operations = () =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) => Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })));

/** The schema of a response, with the one $ref the document uses (the error shape) resolved. */
function responseSchema(op: Json, status: number): Json | null {
  let r = op.responses?.[status];
  if (!r) return null;
  if (r.$ref) r = doc.components.responses[r.$ref.split("/").pop()];
  let schema = r.content?.["application/json"]?.schema;
  if (schema?.$ref) schema = doc.components.schemas[schema.$ref.split("/").pop()];
  return schema ?? null;
}

describe("the docs page", () => {
  test("shows the operations in Chromium, and asks nothing of any other host", async () => {
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
      timeout: 60_000,
    });
    try {
      const page = await browser.newPage();
      const elsewhere: string[] = [];
      const origin = new URL(s.url).origin;
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith(origin + "/")) return route.continue();
        elsewhere.push(url);
        return route.abort();
      });
      await page.goto(`${s.url}/api/docs`, { timeout: 60_000 });
      await page.waitForSelector(".opblock", { timeout: 60_000 });
      const count = await page.locator(".opblock").count();
      expect(count).toBeGreaterThan(50);
      const text = await page.locator("body").innerText();
      expect(text).not.toContain("Failed to load API definition");
      expect(text).toContain("/api/v1/jobs/{namespace}/{name}");
      expect(text).toContain("/ping/{token}");
      expect(elsewhere).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});

describe("the document", () => {
  test("gives every operation a success answer with its schema, and the error shape", () => {
    const missing: string[] = [];
    for (const { path, method, op } of operations()) {
      const success = Object.keys(op.responses ?? {}).filter((c) => /^(2\d\d|304)$/.test(c));
      if (success.length === 0) missing.push(`${method} ${path}: no success answer`);
      for (const c of success) {
        const r = op.responses[c];
        if (c !== "204" && c !== "304" && method !== "head" && !r.content) missing.push(`${method} ${path}: ${c} has no content`);
      }
      if (path.startsWith("/api/v1/") && !Object.keys(op.responses ?? {}).some((c) => c.startsWith("4"))) missing.push(`${method} ${path}: no error answer`);
      if (path.startsWith("/api/v1/")) {
        const err = responseSchema(op, Number(Object.keys(op.responses).find((c) => c.startsWith("4"))));
        expect(err?.title).toBe("Error");
      }
    }
    expect(missing).toEqual([]);
  });

  test("describes every request body with a schema, as JSON", () => {
    const bodies = operations().filter(({ op }) => op.requestBody);
    expect(bodies.length).toBeGreaterThanOrEqual(21);
    for (const { path, method, op } of bodies) {
      const content = op.requestBody.content ?? {};
      expect({ at: `${method} ${path}`, types: Object.keys(content).length }).toEqual({ at: `${method} ${path}`, types: expect.any(Number) });
      expect(Object.keys(content).length).toBeGreaterThan(0);
      for (const [type, media] of Object.entries(content as Json)) {
        expect(type).not.toBe("multipart/form-data");
        expect(Object.keys((media as Json).schema ?? {}).length).toBeGreaterThan(0);
      }
    }
    const put = doc.paths["/api/v1/jobs/{namespace}/{name}"].put.requestBody.content;
    expect(Object.keys(put)).toEqual(["application/json", "application/yaml"]);
  });

  test("types integer parameters as integers", () => {
    const limit = doc.paths["/api/v1/jobs"].get.parameters.find((p: Json) => p.name === "limit");
    expect(limit.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 500 });
    expect(limit.schema.anyOf).toBeUndefined();
    const all = doc.paths["/api/v1/runs"].get.parameters.find((p: Json) => p.name === "all");
    expect(all.schema.type).toBe("boolean");
    const tokenBody = doc.paths["/api/v1/tokens"].post.requestBody.content["application/json"].schema;
    expect(tokenBody.properties.expires_in_days).toMatchObject({ type: "integer", minimum: 1, maximum: 3650 });
  });

  test("has the ping and badge endpoints, and no path twice with a trailing slash", () => {
    const paths = Object.keys(doc.paths);
    expect(paths).toContain("/ping/{token}");
    expect(paths).toContain("/ping/{token}/{signal}");
    expect(paths).toContain("/ping/{ping_key}/{slug}/{signal}");
    expect(paths).toContain("/badge/{key}/{namespace}/{file}");
    expect(doc.paths["/ping/{token}"].get.responses["200"].headers["Ping-Body-Limit"]).toBeDefined();
    expect(paths.filter((p) => p.length > 1 && p.endsWith("/"))).toEqual([]);
    expect(paths).toContain("/api/v1/tenants");
    expect(paths).toContain("/api/v1/channels");
  });

  test("passes redocly lint with no errors, offline: nothing is sent anywhere", async () => {
    const dir = tempDir();
    const file = join(dir, "openapi.json");
    writeFileSync(file, JSON.stringify(doc));
    const lint = [join(ROOT, "node_modules/.bin/redocly"), "lint", "--config", join(ROOT, "redocly.yaml"), file];
    // Under strace, every connect() the linter makes is on record (strace is in system-deps).
    const trace = join(dir, "connects.txt");
    const useStrace = existsSync("/usr/bin/strace");
    const proc = Bun.spawn(useStrace ? ["/usr/bin/strace", "-f", "-e", "trace=connect", "-o", trace, ...lint] : lint, {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, output: code === 0 ? "" : out + err }).toEqual({ code: 0, output: "" });
    expect(out + err).toContain("Your API description is valid");
    if (useStrace) {
      const connects = (await Bun.file(trace).text()).split("\n").filter((l) => /AF_INET6?\b/.test(l));
      expect(connects).toEqual([]);
    }
  }, 60_000);
});

describe("real answers fit the document", () => {
  test("every answer of alice's story matches the schema documented for it", async () => {
    const story: [string, string, string, unknown?][] = [
      ["get", "/api/v1/me", "/api/v1/me"],
      ["get", "/api/v1/tokens", "/api/v1/tokens"],
      ["get", "/api/v1/tenants", "/api/v1/tenants"],
      ["get", "/api/v1/tenants/current", "/api/v1/tenants/current"],
      ["get", "/api/v1/tenants/current/members", "/api/v1/tenants/current/members"],
      ["post", "/api/v1/tenants/current/members", "/api/v1/tenants/current/members", { email: "newcomer@example.com", role: "viewer" }],
      ["post", "/api/v1/tenants/current/invitations", "/api/v1/tenants/current/invitations", { email: "helper@example.com", role: "member" }],
      ["get", "/api/v1/tenants/current/invitations", "/api/v1/tenants/current/invitations"],
      ["post", "/api/v1/invitations/{token}/accept", "/api/v1/invitations/cti_nope/accept"],
      ["get", "/api/v1/namespaces", "/api/v1/namespaces"],
      ["post", "/api/v1/namespaces", "/api/v1/namespaces", { name: "ops" }],
      ["put", "/api/v1/jobs/{namespace}/{name}", "/api/v1/jobs/ops/backup", { schedule: "0 * * * *", labels: { team: "db" } }],
      ["put", "/api/v1/jobs/{namespace}/{name}", "/api/v1/jobs/ops/backup", { schedule: "0 * * * *", labels: { team: "db" } }],
      ["post", "/api/v1/checkins", "/api/v1/checkins", { job: "ops/backup", kind: "success", output: "done" }],
      ["get", "/api/v1/jobs", "/api/v1/jobs"],
      ["get", "/api/v1/jobs/{namespace}/{name}", "/api/v1/jobs/ops/backup"],
      ["get", "/api/v1/runs", "/api/v1/runs?job=ops/backup"],
      ["get", "/api/v1/jobs/{namespace}/{name}/flips", "/api/v1/jobs/ops/backup/flips"],
      ["post", "/api/v1/jobs/{namespace}/{name}/pause", "/api/v1/jobs/ops/backup/pause"],
      ["get", "/api/v1/channels", "/api/v1/channels"],
      ["get", "/api/v1/enrollment-tokens", "/api/v1/enrollment-tokens"],
      ["get", "/api/v1/agents", "/api/v1/agents"],
      ["delete", "/api/v1/tokens/{id}", "/api/v1/tokens/nope"],
      ["post", "/api/v1/jobs", "/api/v1/jobs", { name: "backup", namespace: "ops", schedule: "@daily" }],
      ["get", "/api/v1/runs/{id}", "/api/v1/runs/999999"],
      ["get", "/health", "/health"],
    ];
    for (const [method, template, url, json] of story) {
      const r = await s.api(url, { method: method.toUpperCase(), token: alice.token, json });
      const op = doc.paths[template]?.[method];
      if (!op) {
        expect(r.status).toBe(404);
        continue;
      }
      const schema = responseSchema(op, r.status);
      expect({ url, status: r.status, documented: schema !== null || r.status === 204 }).toEqual({ url, status: r.status, documented: true });
      if (schema) expect({ url, issues: explain(schema, await r.json(), "answer") }).toEqual({ url, issues: [] });
    }
  }, 60_000);
});

describe("ping answers", () => {
  test("carry Ping-Body-Limit, as Healthchecks' do", async () => {
    const r = await s.api("/api/v1/jobs/default/limited", { method: "PUT", token: alice.token, json: { schedule: "@every 1h" } });
    const job = (await r.json()) as { ping_url: string };
    for (const url of [job.ping_url, `${job.ping_url}/start`, `${job.ping_url}/0`]) {
      const ping = await fetch(url, { method: "POST", body: "hello" });
      expect(ping.status).toBe(200);
      expect(ping.headers.get("ping-body-limit")).toBe("20000");
    }
  });
});
