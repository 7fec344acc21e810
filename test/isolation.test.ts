// Tenant isolation: walk every route in the OpenAPI document as charlie (globex), aimed at
// alice's (acme) objects, and check that nothing of acme comes back or changes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { persona, startTestServer, type Persona, type TestServer } from "./helpers";

let s: TestServer;
let alice: Persona, charlie: Persona;
const secrets: string[] = [];
let snapshot = "";

function acmeState() {
  return JSON.stringify([
    s.db.query("SELECT * FROM jobs WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme') ORDER BY id").all(),
    s.db.query("SELECT * FROM memberships WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme') ORDER BY user_id").all(),
    s.db.query("SELECT id, name, scopes FROM api_tokens WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme') ORDER BY id").all(),
    s.db.query("SELECT * FROM namespaces WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme') ORDER BY name").all(),
    s.db.query("SELECT * FROM channels WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme') ORDER BY id").all(),
    s.db.query("SELECT * FROM checkins WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme') ORDER BY id").all(),
    s.db.query("SELECT * FROM invitations WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'acme') ORDER BY id").all(),
  ]);
}

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  charlie = await persona(s.db, "charlie", "globex", "owner");
  const job = (await (
    await s.api("/api/v1/jobs/secret-ns/secret-job", {
      method: "PUT",
      token: alice.token,
      json: { schedule: "@daily", command: "/opt/acme/launch-codes.sh", labels: { owner: "acme-only" } },
    })
  ).json()) as { id: string; ping_url: string };
  const tok = (await (await s.api("/api/v1/tokens", { method: "POST", token: alice.token, json: { name: "acme-ci" } })).json()) as { id: string };
  secrets.push(job.id, job.ping_url.split("/").pop()!, "launch-codes", "acme-only", "secret-ns", tok.id, alice.id, "alice@example.com", "acme-ci");
  const inv = (await (
    await s.api("/api/v1/tenants/current/invitations", { method: "POST", token: alice.token, json: { email: "acme-hire@example.com", role: "admin" } })
  ).json()) as { id: string; url: string };
  secrets.push(inv.id, inv.url.split("/").pop()!, "acme-hire@example.com");
  snapshot = acmeState();
});
afterAll(() => s.close());

const fill: Record<string, () => string> = {
  namespace: () => "secret-ns",
  name: () => "secret-job",
  id: () => secrets[5]!,
  userId: () => alice.id,
};

function bodyFor(path: string): unknown {
  // Inviting a person by e-mail is how membership works; those routes are walked with a new person.
  if (path.includes("members") || path.includes("invitations")) return { email: "newcomer@example.com", role: "viewer" };
  if (path.includes("namespaces")) return { name: "secret-ns" };
  if (path.includes("tokens")) return { name: "x" };
  if (path.includes("tenants")) return { slug: "acme" };
  if (path.includes("switch-tenant")) return { tenant: "acme" };
  if (path.includes("jobs")) return { name: "secret-job", namespace: "secret-ns", schedule: "@hourly", paused: true };
  return {};
}

/** What a stream sends in its first 300 ms. */
async function opening(r: Response): Promise<string> {
  const reader = r.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const stop = Bun.sleep(300).then(() => null);
  for (;;) {
    const chunk = await Promise.race([reader.read(), stop]);
    if (!chunk || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel();
  return text;
}

test("no route lets another tenant read, change or learn of acme's objects", async () => {
  const doc = (await (await s.api("/api/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
  // Reads and changes first; creating routes last, since charlie may create his own objects of the same names.
  const creates = ([m, p]: readonly [string, string]) => Number(m === "PUT" || (m === "POST" && !p.includes("{")));
  const routes = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => [m.toUpperCase(), path] as const))
    .sort((a, b) => creates(a) - creates(b));
  expect(routes.length).toBeGreaterThan(20);
  let walked = 0;
  for (const [method, template] of routes) {
    if (!template.startsWith("/api/v1/") || template.startsWith("/api/v1/auth/login")) continue;
    if (template === "/api/v1/auth/logout") continue; // would revoke charlie's own token
    const path = template.replace(/\{(\w+)\}/g, (_, k: string) => (fill[k] ?? (() => "x"))());
    const init = ["GET", "HEAD", "DELETE"].includes(method) ? { method } : { method, json: bodyFor(template) };
    const r = await s.api(path, { ...init, token: charlie.token });
    // The event stream stays open: what it sends in its first moments is what is checked.
    const text = r.headers.get("content-type")?.startsWith("text/event-stream") ? await opening(r) : await r.text();
    // What charlie sent himself (a name in the path or body) may come back; nothing else of acme's.
    const sent = path + JSON.stringify("json" in init ? init.json : "");
    for (const secret of secrets.filter((x) => !sent.includes(x))) {
      expect(`${method} ${path} leaks ${secret}: ${text.includes(secret)}`).toBe(`${method} ${path} leaks ${secret}: false`);
    }
    // Anything addressed at an acme object by name or id must look like it does not exist.
    if (/\{(namespace|name|id|userId)\}/.test(template) && method !== "PUT") {
      expect(`${method} ${template} -> ${r.status}`).toMatch(/-> (404|409|422)$/);
    }
    walked++;
  }
  expect(walked).toBeGreaterThan(15);
  expect(acmeState()).toBe(snapshot);
});
