// The REST API through a live server: alice owns acme, bob is a member, val is a viewer,
// charlie owns globex and must never see acme's things.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PASSWORD, persona, startTestServer, type Persona, type TestServer } from "./helpers";

let s: TestServer;
let alice: Persona, bob: Persona, val: Persona, charlie: Persona;

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  bob = await persona(s.db, "bob", "acme", "member");
  val = await persona(s.db, "val", "acme", "viewer");
  charlie = await persona(s.db, "charlie", "globex", "owner");
});
afterAll(() => s.close());

const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;

describe("health and docs", () => {
  test("GET /health answers ok with the version", async () => {
    const r = await s.api("/health");
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: "ok", version: expect.any(String) });
  });

  test("the OpenAPI document lists the jobs routes", async () => {
    const doc = (await (await s.api("/api/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain("/api/v1/jobs/{namespace}/{name}");
    expect(Object.keys(doc.paths)).toContain("/api/v1/tokens");
  });

  test("the API docs page loads its assets from this server only", async () => {
    const html = await (await s.api("/api/docs")).text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) expect(u.startsWith("/")).toBe(true);
    expect(html).not.toMatch(/https?:\/\/(unpkg|cdn|cdnjs|jsdelivr)/);
    for (const u of urls) expect((await s.api(u)).status).toBe(200);
  });

  test("an unknown route is a JSON 404", async () => {
    const r = await s.api("/api/v1/nope", { token: alice.token });
    expect(r.status).toBe(404);
    expect((await errorOf(r)).code).toBe("not_found");
  });
});

describe("login and sessions", () => {
  test("logs in with email and password, and the cookie is a session", async () => {
    const r = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "alice@example.com", password: PASSWORD } });
    expect(r.status).toBe(200);
    const cookie = r.headers.get("set-cookie")!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).not.toContain("Secure");
    const body = (await r.json()) as { user: { email: string }; tenants: unknown[] };
    expect(body.user.email).toBe("alice@example.com");
    expect(body.tenants).toEqual([{ slug: "acme", name: "acme", role: "owner" }]);
    const me = await s.api("/api/v1/me", { headers: { cookie: cookie.split(";")[0]! } });
    expect(await me.json()).toMatchObject({ tenant: { slug: "acme" }, role: "owner", auth: "session" });
  });

  test("answers an unknown email and a wrong password with the same 401", async () => {
    const a = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "nobody@example.com", password: PASSWORD } });
    const b = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "bob@example.com", password: "wrong-password" } });
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    expect(await errorOf(a)).toEqual(await errorOf(b));
  });

  test("logout ends the session", async () => {
    const r = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "bob@example.com", password: PASSWORD } });
    const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
    expect((await s.api("/api/v1/auth/logout", { method: "POST", headers: { cookie } })).status).toBe(200);
    expect((await s.api("/api/v1/me", { headers: { cookie } })).status).toBe(401);
  });

  test("a cookie-authenticated change from another site is refused", async () => {
    const r = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "alice@example.com", password: PASSWORD } });
    const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
    const res = await s.api("/api/v1/namespaces", {
      method: "POST",
      headers: { cookie, origin: "https://evil.example" },
      json: { name: "from-evil" },
    });
    expect(res.status).toBe(403);
  });

  test("switch-tenant changes the session's active tenant, and only to a tenant of the user", async () => {
    // erin, not alice: the tenant created here must not show in alice's login.
    await persona(s.db, "erin", "erin-co", "owner");
    const r = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "erin@example.com", password: PASSWORD } });
    const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
    const created = await s.api("/api/v1/tenants", { method: "POST", headers: { cookie }, json: { slug: "erin-labs", name: "Erin Labs" } });
    expect(created.status).toBe(201);
    const sw = await s.api("/api/v1/auth/switch-tenant", { method: "POST", headers: { cookie }, json: { tenant: "erin-labs" } });
    expect(await sw.json()).toMatchObject({ tenant: { slug: "erin-labs" }, role: "owner" });
    const denied = await s.api("/api/v1/auth/switch-tenant", { method: "POST", headers: { cookie }, json: { tenant: "globex" } });
    expect(denied.status).toBe(404);
  });
});

describe("API tokens", () => {
  test("a token is shown once, listed without its secret, and stops working when revoked", async () => {
    const r = await s.api("/api/v1/tokens", { method: "POST", token: alice.token, json: { name: "deploy", scopes: ["read"] } });
    expect(r.status).toBe(201);
    const created = (await r.json()) as { id: string; token: string; scopes: string[] };
    expect(created.token).toMatch(/^ctp_[A-Za-z0-9_-]{32,}$/);
    expect(created.scopes).toEqual(["read"]);
    const list = await (await s.api("/api/v1/tokens", { token: alice.token })).text();
    expect(list).not.toContain(created.token);
    expect((await s.api("/api/v1/me", { token: created.token })).status).toBe(200);
    expect((await s.api(`/api/v1/tokens/${created.id}`, { method: "DELETE", token: alice.token })).status).toBe(204);
    expect((await s.api("/api/v1/me", { token: created.token })).status).toBe(401);
  });

  test("a read token can never change anything", async () => {
    const r = await s.api("/api/v1/tokens", { method: "POST", token: alice.token, json: { name: "ro", scopes: ["read"] } });
    const ro = ((await r.json()) as { token: string }).token;
    const put = await s.api("/api/v1/jobs/default/ro-test", { method: "PUT", token: ro, json: { schedule: "@daily" } });
    expect(put.status).toBe(403);
    expect((await s.api("/api/v1/tokens", { method: "POST", token: ro, json: { name: "escalate", scopes: ["write"] } })).status).toBe(403);
    expect((await s.api("/api/v1/namespaces", { method: "POST", token: ro, json: { name: "nope" } })).status).toBe(403);
  });

  test("a member cannot mint an admin token", async () => {
    const r = await s.api("/api/v1/tokens", { method: "POST", token: bob.token, json: { name: "x", scopes: ["admin"] } });
    expect(r.status).toBe(403);
  });

  test("an expired token is refused", async () => {
    const { createApiToken } = await import("../src/auth/apitokens");
    const tenantId = s.db.query<{ id: string }, []>("SELECT id FROM tenants WHERE slug = 'acme'").get()!.id;
    const { token } = createApiToken(s.db, tenantId, alice.id, { name: "old", expires_in_days: 1 }, null, Date.now() - 2 * 86_400_000);
    expect((await s.api("/api/v1/me", { token })).status).toBe(401);
  });

  test("me reports the token's scopes", async () => {
    const me = await (await s.api("/api/v1/me", { token: val.token })).json();
    expect(me).toMatchObject({ role: "viewer", scopes: ["read"], auth: "token", tenant: { slug: "acme" } });
  });
});

describe("members", () => {
  test("an owner invites a member, who accepts; the owner promotes and removes them; members cannot", async () => {
    const { createUser } = await import("../src/auth/identity");
    await createUser(s.db, { email: "dave@example.com", password: "dave-password", name: "Dave" });
    const add = await s.api("/api/v1/tenants/current/members", { method: "POST", token: alice.token, json: { email: "dave@example.com", role: "member" } });
    expect(add.status).toBe(202);
    const { url } = (await add.json()) as { url: string };
    const login = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "dave@example.com", password: "dave-password" } });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const accept = await s.api(`/api/v1/invitations/${url.split("/").pop()}/accept`, { method: "POST", headers: { cookie } });
    expect(accept.status).toBe(200);
    const dave = ((await accept.json()) as { member: { user_id: string; role: string } }).member;
    expect(dave.role).toBe("member");
    expect((await s.api(`/api/v1/tenants/current/members/${dave.user_id}`, { method: "PATCH", token: bob.token, json: { role: "admin" } })).status).toBe(403);
    const up = await s.api(`/api/v1/tenants/current/members/${dave.user_id}`, { method: "PATCH", token: alice.token, json: { role: "admin" } });
    expect(await up.json()).toMatchObject({ role: "admin" });
    expect((await s.api(`/api/v1/tenants/current/members/${dave.user_id}`, { method: "DELETE", token: alice.token })).status).toBe(204);
    const list = (await (await s.api("/api/v1/tenants/current/members", { token: bob.token })).json()) as { members: { email: string }[] };
    expect(list.members.map((m) => m.email)).not.toContain("dave@example.com");
  });

  test("the last owner cannot be removed or demoted", async () => {
    const del = await s.api(`/api/v1/tenants/current/members/${alice.id}`, { method: "DELETE", token: alice.token });
    expect(del.status).toBe(409);
    const demote = await s.api(`/api/v1/tenants/current/members/${alice.id}`, { method: "PATCH", token: alice.token, json: { role: "member" } });
    expect(demote.status).toBe(409);
  });

  test("an invalid role is a 422 naming the field", async () => {
    const r = await s.api("/api/v1/tenants/current/members", { method: "POST", token: alice.token, json: { email: "x@example.com", role: "god" } });
    expect(r.status).toBe(422);
    expect((await errorOf(r)).message).toContain("role");
  });
});

describe("namespaces", () => {
  test("a namespace with jobs cannot be deleted; an empty one can", async () => {
    expect((await s.api("/api/v1/namespaces", { method: "POST", token: bob.token, json: { name: "etl" } })).status).toBe(201);
    expect((await s.api("/api/v1/namespaces", { method: "POST", token: bob.token, json: { name: "etl" } })).status).toBe(409);
    await s.api("/api/v1/jobs/etl/nightly", { method: "PUT", token: bob.token, json: { schedule: "0 3 * * *" } });
    expect((await s.api("/api/v1/namespaces/etl", { method: "DELETE", token: bob.token })).status).toBe(409);
    await s.api("/api/v1/jobs/etl/nightly", { method: "DELETE", token: bob.token });
    expect((await s.api("/api/v1/namespaces/etl", { method: "DELETE", token: bob.token })).status).toBe(204);
    expect((await s.api("/api/v1/namespaces/etl", { method: "DELETE", token: bob.token })).status).toBe(404);
  });

  test("a job in a new namespace creates it", async () => {
    await s.api("/api/v1/jobs/reports/weekly", { method: "PUT", token: bob.token, json: { schedule: "@weekly" } });
    const list = (await (await s.api("/api/v1/namespaces", { token: val.token })).json()) as { namespaces: { name: string; jobs: number }[] };
    expect(list.namespaces).toContainEqual(expect.objectContaining({ name: "reports", jobs: 1 }));
  });
});

describe("jobs", () => {
  const manifest = `apiVersion: crontopus/v1
kind: Job
metadata:
  name: db-backup
  namespace: ops
  labels:
    env: prod
    team: platform
spec:
  schedule: "0 2 * * *"
  timezone: Europe/Berlin
  command: /opt/backup.sh
  args: ["--full"]
  env:
    - name: TARGET
      value: s3://backups
  grace: 10m
  timeout: 1h
  frobnicate: true
`;

  /** bob's sync job, as the POST test creates it, under a name of the calling test's own. */
  const syncJob = (name: string) => ({ name, namespace: "default", schedule: "*/15 * * * *", command: "sync.sh", labels: { env: "dev" }, agent: { selector: { role: "web" } } });
  async function createSync(name: string) {
    expect((await s.api("/api/v1/jobs", { method: "POST", token: bob.token, json: syncJob(name) })).status).toBe(201);
  }

  test("PUT with a YAML manifest creates (201) then replaces (200), keeping id and ping URL", async () => {
    const first = await s.api("/api/v1/jobs/ops/db-backup", {
      method: "PUT",
      token: alice.token,
      headers: { "content-type": "application/yaml" },
      body: manifest,
    });
    expect(first.status).toBe(201);
    const a = (await first.json()) as Record<string, any>;
    expect(a).toMatchObject({
      namespace: "ops",
      name: "db-backup",
      status: "new",
      labels: { env: "prod", team: "platform" },
      timezone: "Europe/Berlin",
      command: "/opt/backup.sh",
      args: ["--full"],
      env: { TARGET: "s3://backups" },
      grace: 600,
      timeout: 3600,
    });
    expect(a.warnings.join("\n")).toContain("spec.frobnicate");
    expect(a.ping_url).toMatch(new RegExp(`^${s.url.replace("127.0.0.1", "127\\.0\\.0\\.1")}/ping/[A-Za-z0-9_-]{22,}$`));
    expect(a.next_runs).toHaveLength(5);
    expect(a.next_runs[0]).toMatch(/T02:00:00\+0[12]:00$/);
    expect(a.schedule_description).toContain("02:00");

    const second = await s.api("/api/v1/jobs/ops/db-backup", {
      method: "PUT",
      token: alice.token,
      headers: { "content-type": "application/yaml" },
      body: manifest.replace("0 2 * * *", "30 4 * * *"),
    });
    expect(second.status).toBe(200);
    const b = (await second.json()) as Record<string, any>;
    expect(b.id).toBe(a.id);
    expect(b.ping_url).toBe(a.ping_url);
    expect(b.schedule).toBe("30 4 * * *");
  });

  test("POST takes plain JSON and answers 409 when the job exists", async () => {
    const body = syncJob("sync");
    const r = await s.api("/api/v1/jobs", { method: "POST", token: bob.token, json: body });
    expect(r.status).toBe(201);
    expect(await r.json()).toMatchObject({ agent: { selector: { role: "web" } }, warnings: [] });
    expect((await s.api("/api/v1/jobs", { method: "POST", token: bob.token, json: body })).status).toBe(409);
  });

  test("what GET returns can be PUT back unchanged", async () => {
    await createSync("round-trip");
    const got = (await (await s.api("/api/v1/jobs/default/round-trip", { token: bob.token })).json()) as Record<string, unknown>;
    const put = await s.api("/api/v1/jobs/default/round-trip", { method: "PUT", token: bob.token, json: got });
    expect(put.status).toBe(200);
    const again = (await put.json()) as Record<string, unknown>;
    expect(again.warnings).toEqual([]);
    // The same definition again: nothing written, updated_at as it was.
    expect(again.changed).toBe(false);
    expect(again.updated_at).toBe(got.updated_at);
    expect({ ...again, warnings: undefined, changed: undefined, updated_at: undefined, next_runs: undefined }).toEqual({
      ...got,
      warnings: undefined,
      changed: undefined,
      updated_at: undefined,
      next_runs: undefined,
    });
  });

  test("PATCH changes only the given fields", async () => {
    await createSync("patched");
    const r = await s.api("/api/v1/jobs/default/patched", { method: "PATCH", token: bob.token, json: { schedule: "@hourly" } });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ schedule: "@hourly", command: "sync.sh", labels: { env: "dev" } });
  });

  test("a bad schedule is a 422 that names the field, and nothing is written", async () => {
    const r = await s.api("/api/v1/jobs/default/broken", { method: "PUT", token: bob.token, json: { schedule: "61 * * * *" } });
    expect(r.status).toBe(422);
    const e = await errorOf(r);
    expect(e.code).toBe("validation_failed");
    expect(e.message).toStartWith("schedule");
    expect((await s.api("/api/v1/jobs/default/broken", { token: bob.token })).status).toBe(404);
    const y = await s.api("/api/v1/jobs/default/broken", {
      method: "PUT",
      token: bob.token,
      headers: { "content-type": "application/yaml" },
      body: "apiVersion: crontopus/v1\nkind: Job\nmetadata: {name: broken}\nspec: {schedule: '* * *', timezone: Mars/Base}\n",
    });
    expect(y.status).toBe(422);
    expect((await errorOf(y)).message).toMatch(/^spec\.(schedule|timezone)/);
  });

  test("malformed JSON is a 422 that says where, and a bad name a 422", async () => {
    // Job bodies go through the manifest parser, which locates the error (docs/job-manifest.md).
    const r = await s.api("/api/v1/jobs", { method: "POST", token: bob.token, headers: { "content-type": "application/json" }, body: "{nope" });
    expect(r.status).toBe(422);
    expect((await errorOf(r)).message).toMatch(/^body: invalid JSON at line 1/);
    const bad = await s.api("/api/v1/jobs", { method: "POST", token: bob.token, json: { name: "Bad_Name", schedule: "@daily" } });
    expect(bad.status).toBe(422);
    expect((await errorOf(bad)).message).toStartWith("name");
  });

  test("pause and resume flip the status; a viewer may do neither", async () => {
    await createSync("pausable");
    expect((await s.api("/api/v1/jobs/default/pausable/pause", { method: "POST", token: val.token })).status).toBe(403);
    const p = await s.api("/api/v1/jobs/default/pausable/pause", { method: "POST", token: bob.token });
    expect(await p.json()).toMatchObject({ paused: true, status: "paused" });
    const paused = (await (await s.api("/api/v1/jobs?status=paused", { token: val.token })).json()) as { jobs: { name: string }[] };
    expect(paused.jobs.map((j) => j.name)).toEqual(["pausable"]);
    const r = await s.api("/api/v1/jobs/default/pausable/resume", { method: "POST", token: bob.token });
    expect(await r.json()).toMatchObject({ paused: false, status: "new" });
  });

  test("lists by namespace, label and text, a page at a time", async () => {
    for (let i = 0; i < 7; i++) {
      await s.api(`/api/v1/jobs/batch/job-${i}`, {
        method: "PUT",
        token: bob.token,
        json: { schedule: "@daily", labels: { tier: i % 2 ? "odd" : "even" }, command: `run-${i}.sh` },
      });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const qs: string = `/api/v1/jobs?namespace=batch&limit=3${cursor ? `&cursor=${cursor}` : ""}`;
      const page = (await (await s.api(qs, { token: val.token })).json()) as { jobs: { name: string }[]; next_cursor: string | null };
      expect(page.jobs.length).toBeLessThanOrEqual(3);
      seen.push(...page.jobs.map((j) => j.name));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `job-${i}`));
    const odd = (await (await s.api("/api/v1/jobs?label=tier=odd", { token: val.token })).json()) as { jobs: { name: string }[] };
    expect(odd.jobs.map((j) => j.name)).toEqual(["job-1", "job-3", "job-5"]);
    const q = (await (await s.api("/api/v1/jobs?q=RUN-4", { token: val.token })).json()) as { jobs: { name: string }[] };
    expect(q.jobs.map((j) => j.name)).toEqual(["job-4"]);
    expect((await s.api("/api/v1/jobs?status=sideways", { token: val.token })).status).toBe(422);
    expect((await s.api("/api/v1/jobs?cursor=garbage", { token: val.token })).status).toBe(400);
  });

  test("DELETE removes the job, then 404", async () => {
    expect((await s.api("/api/v1/jobs/default/doomed", { method: "PUT", token: bob.token, json: { schedule: "@daily" } })).status).toBe(201);
    expect((await s.api("/api/v1/jobs/default/doomed", { method: "DELETE", token: bob.token })).status).toBe(204);
    expect((await s.api("/api/v1/jobs/default/doomed", { method: "DELETE", token: bob.token })).status).toBe(404);
  });

  test("another tenant's job is a 404, never a 403", async () => {
    expect((await s.api("/api/v1/jobs/ops/payroll", { method: "PUT", token: alice.token, json: { schedule: "@daily" } })).status).toBe(201);
    for (const [method, path] of [
      ["GET", "/api/v1/jobs/ops/payroll"],
      ["PATCH", "/api/v1/jobs/ops/payroll"],
      ["DELETE", "/api/v1/jobs/ops/payroll"],
      ["POST", "/api/v1/jobs/ops/payroll/pause"],
    ] as const) {
      const r = await s.api(path, { method, token: charlie.token, ...(method === "PATCH" ? { json: { paused: true } } : {}) });
      expect(`${method} ${path} ${r.status}`).toBe(`${method} ${path} 404`);
    }
    const list = await (await s.api("/api/v1/jobs", { token: charlie.token })).json();
    expect(list).toEqual({ jobs: [], next_cursor: null });
  });
});

describe("rate limits", () => {
  test("repeated failed logins for one account are answered 429", async () => {
    let last = 0;
    for (let i = 0; i < 12; i++) {
      const r = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "charlie@example.com", password: "guess-" + i } });
      last = r.status;
      if (last === 429) {
        expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
        break;
      }
    }
    expect(last).toBe(429);
  });
});
