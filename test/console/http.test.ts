// The console over HTTP, without a browser: alice owns acme and globex, bob is a viewer in acme,
// dave has an account and no tenant. Every console page wants a signed-in user and brings them
// back after the login; the machine endpoints never do; forms need their CSRF token; pages carry
// a strict CSP and stay light.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createUser } from "../../src/auth/identity";
import { addMember } from "../../src/tenants/members";
import { findTenant, updateTenantSettings } from "../../src/tenants/tenants";
import { createEnrollmentToken, enroll } from "../../src/agents/agents";
import { PASSWORD, persona, startTestServer, type Persona, type TestServer } from "../helpers";
import { FormClient } from "./client";

let s: TestServer;
let alice: Persona;
let pingUrl = "";
/** A run of alice's acme (the run page needs one that exists). */
let runPath = "";

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "bob", "acme", "viewer");
  const gina = await persona(s.db, "gina", "globex", "owner");
  await s.api("/api/v1/jobs/ops/payroll", { method: "PUT", token: gina.token, json: { schedule: "@daily" } });
  await addMember(s.db, findTenant(s.db, "globex")!.id, "owner", { email: alice.email, role: "member" });
  await createUser(s.db, { email: "dave@example.com", password: PASSWORD });
  for (const name of ["db-backup", "report", "cleanup"]) {
    const r = await s.api(`/api/v1/jobs/ops/${name}`, { method: "PUT", token: alice.token, json: { schedule: "@daily" } });
    const job = (await r.json()) as { ping_url: string };
    if (name === "db-backup") pingUrl = job.ping_url;
    if (name === "report") await fetch(`${job.ping_url}/fail`);
  }
  await fetch(pingUrl);
  const runs = (await (await s.api("/api/v1/runs?limit=1", { token: alice.token })).json()) as { runs: { id: number }[] };
  runPath = `/runs/${runs.runs[0]!.id}`;
  const { token } = createEnrollmentToken(s.db, findTenant(s.db, "acme")!.id, null, { name: "hosts" }, Date.now());
  enroll(s.db, { token, hostname: "web1.example.com", platform: "linux", arch: "x64", scheduler: "crontab", machine_id: "m-web1" }, 30, Date.now());
});
afterAll(() => s.close());

const consolePages = () => ["/", "/jobs", "/jobs/ops/db-backup", "/runs", runPath, "/timeline", "/agents", "/agents/web1", "/agents/new", "/settings", "/account/password"];

describe("signing in", () => {
  test("every console page sends a signed-out visitor to the login form, which brings them back to it", async () => {
    for (const path of consolePages()) {
      const browser = new FormClient(s.url);
      const { r } = await browser.get(path);
      const login = path === "/" ? "/login" : `/login?next=${encodeURIComponent(path)}`;
      expect(`${path} -> ${r.status} ${r.headers.get("location")}`).toBe(`${path} -> 303 ${login}`);
      const next = new URL(login, s.url).searchParams.get("next") ?? "";
      expect(await browser.login(alice.email, PASSWORD, next)).toBe(path);
      const back = await browser.get(path);
      expect(`${path} -> ${back.r.status}`).toBe(`${path} -> 200`);
      expect(back.r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    }
  });

  test("a signed-out htmx request (a live part) sends the whole page to the login form, which brings them back to that page, not to the fragment", async () => {
    const browser = new FormClient(s.url);
    for (const [fragment, page, next] of [
      ["/dashboard/live", `${s.url}/`, null],
      ["/jobs/statuses?chips=1", `${s.url}/jobs?status=failed`, "/jobs?status=failed"],
      ["/dashboard/live", "https://evil.example/jobs", null],
      ["/dashboard/live", null, null],
    ] as const) {
      const { r } = await browser.get(fragment, { "hx-request": "true", ...(page ? { "hx-current-url": page } : {}) });
      expect(r.status).toBe(200);
      expect(r.headers.get("hx-redirect")).toBe(next ? `/login?next=${encodeURIComponent(next)}` : "/login");
    }
  });

  test("the machine endpoints never redirect to the login form", async () => {
    const badgeKey = s.db.query<{ badge_key: string }, []>("SELECT badge_key FROM tenants WHERE slug = 'acme'").get()!.badge_key;
    const paths = [
      "/health",
      new URL(pingUrl).pathname,
      "/ping/no-such-token",
      `/badge/${badgeKey}/ops/db-backup.svg`,
      "/badge/nope/ops/x.svg",
      "/metrics",
      "/api/v1/jobs",
      "/api/v1/nope",
      "/api/docs",
      "/api/openapi.json",
      "/install.sh",
      "/install.ps1",
      "/download/linux-x64",
    ];
    for (const path of paths) {
      const r = await fetch(s.url + path, { redirect: "manual" });
      await r.arrayBuffer();
      expect(`${path} -> ${r.status < 300 || r.status >= 400} ${r.headers.get("location")}`).toBe(`${path} -> true null`);
    }
  });

  test("the login form always answers 200 with an email field, a password field and a submit button", async () => {
    const browser = new FormClient(s.url);
    for (const path of ["/login", "/login?next=%2Fjobs", "/login?next=https%3A%2F%2Fevil.example%2F"]) {
      const { r, html } = await browser.get(path);
      expect(r.status).toBe(200);
      expect(html).toMatch(/<input[^>]* name="email"[^>]* type="email"/);
      expect(html).toMatch(/<input[^>]* name="password"[^>]* type="password"/);
      expect(html).toMatch(/<button type="submit">Sign in<\/button>/);
      expect(html).toContain('<label for="email">Email</label>');
      expect(html).toContain('<label for="password">Password</label>');
    }
    // Signed in, it still answers with the form.
    await browser.login(alice.email, PASSWORD);
    expect((await browser.get("/login")).r.status).toBe(200);
  });

  test("a wrong password or an unknown email shows the same error next to the password field, the email kept", async () => {
    for (const email of [alice.email, "nobody@example.com"]) {
      const browser = new FormClient(s.url);
      await browser.get("/login?next=%2Fjobs");
      const { r, html } = await browser.post("/login", { email, password: "not the password", next: "/jobs" });
      expect(r.status).toBe(401);
      expect(html).toContain('<span class="field-error" id="password-error">Invalid email or password.</span>');
      expect(html).toMatch(/<input id="password"[^>]* aria-invalid="true" aria-describedby="password-error"/);
      expect(html).toContain(`value="${email}"`);
      expect(html).toContain('name="next" value="/jobs"');
      expect(browser.cookies.has("crontopus_session")).toBe(false);
    }
  });

  test("an empty field is named next to itself", async () => {
    const browser = new FormClient(s.url);
    await browser.get("/login");
    const { r, html } = await browser.post("/login", { email: "", password: "" });
    expect(r.status).toBe(422);
    expect(html).toContain('id="email-error">Enter your email address.</span>');
    expect(html).toContain('id="password-error">Enter your password.</span>');
  });

  test("the login and setup forms take at most 16 KiB, like the API's login", async () => {
    for (const path of ["/login", "/setup"]) {
      const r = await fetch(s.url + path, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `email=${"a".repeat(20_000)}` });
      expect(`${path} ${r.status}`).toBe(`${path} 413`);
      await r.arrayBuffer();
    }
  });

  test("after signing in it goes only to a page of this server", async () => {
    for (const next of ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/login", "/logout"]) {
      const browser = new FormClient(s.url);
      expect(`${next} -> ${await browser.login(alice.email, PASSWORD, next)}`).toBe(`${next} -> /`);
    }
    const browser = new FormClient(s.url);
    expect(await browser.login(alice.email, PASSWORD, "/jobs?status=failed&q=a%20b")).toBe("/jobs?status=failed&q=a%20b");
  });

  test("logging out ends the session", async () => {
    const browser = new FormClient(s.url);
    await browser.login(alice.email, PASSWORD);
    const session = browser.cookies.get("crontopus_session")!;
    await browser.get("/");
    const { r } = await browser.post("/logout", {});
    expect([r.status, r.headers.get("location")]).toEqual([303, "/login"]);
    expect(browser.cookies.has("crontopus_session")).toBe(false);
    const { html } = await browser.get("/login");
    expect(html).toContain("You are signed out.");
    // The old cookie no longer opens anything.
    const again = await fetch(`${s.url}/`, { headers: { cookie: `crontopus_session=${session}` }, redirect: "manual" });
    expect([again.status, again.headers.get("location")]).toEqual([303, "/login"]);
  });
});

describe("CSRF and origin", () => {
  test("a form POST without the page's token is refused, and changes nothing", async () => {
    const browser = new FormClient(s.url);
    await browser.login(alice.email, PASSWORD);
    await browser.get("/");
    const oneOff = browser.csrf.slice(0, -1) + (browser.csrf.endsWith("A") ? "B" : "A");
    for (const csrf of [null, "", "forged", oneOff]) {
      const { r, html } = await browser.post("/logout", {}, { csrf });
      expect(`${csrf} -> ${r.status}`).toBe(`${csrf} -> 403`);
      expect(html).toContain("This form has expired or did not come from this site.");
      expect(r.headers.get("content-security-policy")).toContain("script-src 'self'");
    }
    expect((await browser.get("/")).r.status).toBe(200);
  });

  test("the login form needs its token too (the browser's pre-session cookie), so no site can sign a visitor in", async () => {
    const browser = new FormClient(s.url);
    await browser.get("/login");
    expect(browser.cookies.has("crontopus_csrf")).toBe(true);
    expect((await browser.post("/login", { email: alice.email, password: PASSWORD }, { csrf: null })).r.status).toBe(403);
    // A token from another browser does not fit this one's cookie.
    const other = new FormClient(s.url);
    await other.get("/login");
    expect((await browser.post("/login", { email: alice.email, password: PASSWORD }, { csrf: other.csrf })).r.status).toBe(403);
    expect(browser.cookies.has("crontopus_session")).toBe(false);
    expect((await browser.post("/login", { email: alice.email, password: PASSWORD })).r.status).toBe(303);
  });

  test("an htmx request may send the token as a header; another origin is refused even with the token", async () => {
    const browser = new FormClient(s.url);
    await browser.login(alice.email, PASSWORD);
    await browser.get("/");
    const token = browser.csrf;
    const viaHeader = await browser.post("/switch-tenant", { tenant: "globex", next: "/" }, { csrf: null, headers: { "x-csrf-token": token, "hx-request": "true" } });
    expect([viaHeader.r.status, viaHeader.r.headers.get("hx-location")]).toEqual([200, "/"]);
    const cross = await browser.post("/switch-tenant", { tenant: "acme", next: "/" }, { headers: { origin: "https://evil.example" } });
    expect(cross.r.status).toBe(403);
    expect((await browser.get("/")).html).toContain('<option value="globex" selected>');
  });
});

describe("the pages", () => {
  test("carry a strict Content-Security-Policy, no inline script, handler or style, and fetch nothing from another host", async () => {
    const browser = new FormClient(s.url);
    const pages: [string, string][] = [["/login", (await browser.get("/login")).html]];
    await browser.login(alice.email, PASSWORD);
    for (const path of [...consolePages(), "/jobs/ops/no-such-job"]) {
      const { r, html } = await browser.get(path);
      const csp = r.headers.get("content-security-policy") ?? "";
      expect(`${path}: ${csp}`).toContain("script-src 'self';");
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(r.headers.get("cache-control")).toBe("no-store");
      pages.push([path, html]);
    }
    for (const [path, html] of pages) {
      expect(`${path}: ${html.match(/<script(?![^>]*\ssrc=)[^>]*>/g)}`).toBe(`${path}: null`);
      expect(`${path}: ${html.match(/\son[a-z]+=/gi)}`).toBe(`${path}: null`);
      expect(`${path}: ${html.match(/\sstyle=/gi)}`).toBe(`${path}: null`);
      const hrefs = [...html.matchAll(/\s(?:src|href|action)="([^"]*)"/g)].map((m) => m[1]!);
      const elsewhere = hrefs.filter((h) => !h.startsWith("#") && (!h.startsWith("/") || h.startsWith("//")));
      expect(`${path}: ${elsewhere}`).toBe(`${path}: `);
    }
  });

  test("a page's first load (HTML, CSS and script) stays under 150 KB uncompressed", async () => {
    const browser = new FormClient(s.url);
    const loginPage = (await browser.get("/login")).html;
    await browser.login(alice.email, PASSWORD);
    const dashboard = (await browser.get("/")).html;
    for (const html of [loginPage, dashboard]) {
      let bytes = Buffer.byteLength(html);
      for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
        const r = await fetch(s.url + m[1], { headers: { "accept-encoding": "identity" } });
        expect(`${m[1]} ${r.status}`).toBe(`${m[1]} 200`);
        bytes += (await r.arrayBuffer()).byteLength;
      }
      expect(bytes).toBeLessThan(150 * 1024);
    }
  });

  test("the dashboard counts the tenant's jobs by status, each count marked with its status", async () => {
    const browser = new FormClient(s.url);
    await browser.login(alice.email, PASSWORD);
    const { html } = await browser.get("/");
    const counts = Object.fromEntries([...html.matchAll(/<span class="count">(\d+)<\/span><span class="status" data-job-status="([a-z]+)">\2<\/span>/g)].map((m) => [m[2], Number(m[1])]));
    expect(counts).toEqual({ new: 1, up: 1, running: 0, late: 0, down: 0, failed: 1, paused: 0 });
    expect(html).toContain("3 jobs in acme");
  });

  test("the layout has the navigation, marks the current section, and offers logout and the password page", async () => {
    const browser = new FormClient(s.url);
    await browser.login(alice.email, PASSWORD);
    const { html } = await browser.get("/jobs/ops/db-backup");
    for (const [href, label] of [["/", "Dashboard"], ["/jobs", "Jobs"], ["/runs", "Runs"], ["/timeline", "Timeline"], ["/agents", "Agents"], ["/settings", "Settings"]]) {
      expect(html).toMatch(new RegExp(`<a href="${href}"( aria-current="page")?>${label}</a>`));
    }
    expect(html).toContain('<a href="/jobs" aria-current="page">Jobs</a>');
    expect(html).toContain('<form class="inline-form" method="post" action="/logout">');
    expect(html).toContain('<a href="/account/password">Password</a>');
    // The job's own status is the first status on its page.
    expect(/data-job-status="([a-z]+)"/.exec(html)?.[1]).toBe("up");
  });

  test("another tenant's job, or none, is a 404 page, not the API's JSON", async () => {
    const browser = new FormClient(s.url);
    await browser.login(alice.email, PASSWORD);
    for (const name of ["no-such-job", "payroll"]) {
      const { r, html } = await browser.get(`/jobs/ops/${name}`);
      expect(r.status).toBe(404);
      expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(html).toContain(`<p>Job ops/${name} not found.</p>`);
    }
  });

  test("the tenant switcher moves the session to another of the user's tenants, with a flash message", async () => {
    const browser = new FormClient(s.url);
    await browser.login(alice.email, PASSWORD);
    const before = (await browser.get("/jobs/ops/db-backup")).html;
    expect(before).toContain('<form class="tenant-switch" method="post" action="/switch-tenant">');
    expect(before).toContain('<input type="hidden" name="next" value="/jobs"/>');
    const { r } = await browser.post("/switch-tenant", { tenant: "globex", next: "/jobs" });
    expect([r.status, r.headers.get("location")]).toEqual([303, "/jobs"]);
    const { html } = await browser.get("/");
    expect(html).toContain("Now in globex.");
    expect(html).toContain("1 job in globex");
    // Not a tenant of hers: not found.
    expect((await browser.post("/switch-tenant", { tenant: "initech" })).r.status).toBe(404);
  });

  test("a user in one tenant sees its name, no switcher", async () => {
    const browser = new FormClient(s.url);
    await browser.login("bob@example.com", PASSWORD);
    const { html } = await browser.get("/");
    expect(html).toContain('<span class="tenant-name">acme</span>');
    expect(html).not.toContain("tenant-switch");
  });

  test("a user in no tenant is told so instead of a page", async () => {
    const browser = new FormClient(s.url);
    await browser.login("dave@example.com", PASSWORD);
    const { r, html } = await browser.get("/jobs");
    expect(r.status).toBe(200);
    expect(html).toContain("You are not a member of any tenant.");
  });

  test("names from users are shown as text", async () => {
    const gina = new FormClient(s.url);
    updateTenantSettings(s.db, findTenant(s.db, "globex")!.id, { name: `<script>alert("x")</script>` });
    await gina.login(alice.email, PASSWORD);
    const { html } = await gina.get("/");
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    updateTenantSettings(s.db, findTenant(s.db, "globex")!.id, { name: "globex" });
  });
});

describe("password change", () => {
  test("needs the current password, two equal new ones, and then signs out the other sessions", async () => {
    const carol = await persona(s.db, "carol", "acme", "member");
    const laptop = new FormClient(s.url);
    const phone = new FormClient(s.url);
    await laptop.login(carol.email, PASSWORD);
    await phone.login(carol.email, PASSWORD);
    await laptop.get("/account/password");

    let { r, html } = await laptop.post("/account/password", { current: "wrong one", password: "a new password", confirm: "a new password" });
    expect(r.status).toBe(422);
    expect(html).toContain('id="current-error">Is not your password.</span>');
    ({ r, html } = await laptop.post("/account/password", { current: PASSWORD, password: "a new password", confirm: "another one" }));
    expect(html).toContain('id="confirm-error">The two new passwords differ.</span>');
    ({ r, html } = await laptop.post("/account/password", { current: PASSWORD, password: "short", confirm: "short" }));
    expect(html).toContain('id="password-error">Must be at least 8 characters.</span>');

    ({ r } = await laptop.post("/account/password", { current: PASSWORD, password: "a new password", confirm: "a new password" }));
    expect([r.status, r.headers.get("location")]).toEqual([303, "/account/password"]);
    expect((await laptop.get("/account/password")).html).toContain("Password changed. Your other sessions are signed out.");
    expect((await phone.get("/")).r.status).toBe(303);
    expect(await new FormClient(s.url).login(carol.email, "a new password")).toBe("/");
  });
});
