// First run over HTTP: a server with no user gives out one setup link; alice opens it and becomes
// the owner of acme, signed in. The link then answers 404, as does the link of a server whose first
// user was made with `crontopus admin create-user`; a server that has a user gives out none.
import { afterEach, expect, test } from "bun:test";
import { cli, PASSWORD, startTestServer, tempDir, type TestServer } from "../helpers";
import { FormClient } from "./client";

let servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers) await s.close();
  servers = [];
});

async function server(env: Record<string, string> = {}) {
  const s = await startTestServer(env);
  servers.push(s);
  return s;
}

const setupPath = (s: TestServer) => new URL(s.setupUrl!).pathname + new URL(s.setupUrl!).search;

test("the setup link creates the first owner and tenant, signs them in, and works once", async () => {
  const s = await server();
  expect(s.setupUrl).toStartWith(`${s.ctx.config.baseUrl}/setup?token=`);
  const browser = new FormClient(s.url);
  const { r, html } = await browser.get(setupPath(s));
  expect(r.status).toBe(200);
  for (const name of ["name", "email", "password", "tenant_name", "tenant"]) expect(html).toContain(`name="${name}"`);
  const token = new URL(s.setupUrl!).searchParams.get("token")!;
  const form = { token, name: "Alice", email: "alice@example.com", password: PASSWORD, tenant_name: "Acme Inc.", tenant: "acme" };

  // A field the service refuses is named next to it, and the link stays open.
  const bad = await browser.post("/setup", { ...form, tenant: "Acme Inc" });
  expect(bad.r.status).toBe(422);
  expect(bad.html).toContain('id="tenant-error">Must be lowercase letters, digits and &#x27;-&#x27;, start and end');
  expect(bad.html).toContain('value="alice@example.com"');

  const done = await browser.post("/setup", form);
  expect([done.r.status, done.r.headers.get("location")]).toEqual([303, "/"]);
  const dashboard = await browser.get("/");
  expect(dashboard.r.status).toBe(200);
  expect(dashboard.html).toContain("Welcome. You own Acme Inc.; sign in with alice@example.com from now on.");
  expect(dashboard.html).toContain('<span class="tenant-name">Acme Inc.</span>');

  // Spent: the page and the form answer 404, and nobody else gets in.
  const other = new FormClient(s.url);
  expect((await other.get(setupPath(s))).r.status).toBe(404);
  await other.get("/login"); // a page with a form: its CSRF token
  const again = await other.post("/setup", { ...form, email: "mallory@example.com", tenant: "evil" });
  expect(again.r.status).toBe(404);
  expect(again.html).toContain("A setup link works once, and only while the server has no user.");
  expect(s.db.query("SELECT email FROM users").all()).toEqual([{ email: "alice@example.com" }]);
});

test("a user made with `crontopus admin create-user` closes the link; a server with a user gives out none", async () => {
  const dataDir = tempDir();
  const s = await server({ CRONTOPUS_DATA_DIR: dataDir });
  const path = setupPath(s);
  expect((await new FormClient(s.url).get(path)).r.status).toBe(200);
  const made = await cli(["admin", "create-user", "--email", "bob@example.com", "--password", PASSWORD, "--tenant", "acme"], { CRONTOPUS_DATA_DIR: dataDir });
  expect(made.stderr).toBe("");
  expect(made.code).toBe(0);
  const { r, html } = await new FormClient(s.url).get(path);
  expect(r.status).toBe(404);
  expect(html).toContain("This setup link does not work");
  await s.close();
  servers = [];
  const restarted = await server({ CRONTOPUS_DATA_DIR: dataDir });
  expect(restarted.setupUrl).toBeNull();
  expect((await new FormClient(restarted.url).get(path)).r.status).toBe(404);
});

test("a setup page without its token, or with a wrong one, opens nothing", async () => {
  const s = await server();
  for (const path of ["/setup", "/setup?token=", "/setup?token=guess", `${setupPath(s)}x`]) {
    expect(`${path} ${(await new FormClient(s.url).get(path)).r.status}`).toBe(`${path} 404`);
  }
});
