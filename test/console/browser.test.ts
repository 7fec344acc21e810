// The console in a real browser (Debian's Chromium), offline: every request to another host is
// aborted, and none may be made. Alice sets up a fresh server through the link `serve` prints,
// signs in, follows an alert's job link, mistypes her password, signs out; a form stripped of its
// CSRF token is refused; the pages pass axe's WCAG 2 A/AA check and keep to their CSP. The pages
// are saved as screenshots at 1280 and 360 px in test/console/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { addMember } from "../../src/tenants/members";
import { createTenant, updateTenantSettings } from "../../src/tenants/tenants";
import { BUN, freePort, MAIN, PASSWORD, persona, startTestServer, tempDir, type Persona, type TestServer } from "../helpers";
import { axeViolations, launch, open, screenshots, seriousOf, type Watched, expectClean } from "./browser";

let browser: Browser;
let s: TestServer;
let alice: Persona;

beforeAll(async () => {
  browser = await launch();
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  updateTenantSettings(s.db, createTenant(s.db, { slug: "globex" }, null).id, { name: "Globex Corporation" });
  await addMember(s.db, (s.db.query("SELECT id FROM tenants WHERE slug = 'globex'").get() as { id: string }).id, "owner", { email: alice.email, role: "admin" });
  updateTenantSettings(s.db, (s.db.query("SELECT id FROM tenants WHERE slug = 'acme'").get() as { id: string }).id, { name: "Acme Inc." });
  // A tenant with some life in it: jobs up, failed, late-ish new ones and a paused one.
  const jobs = ["db-backup", "invoice-run", "log-rotate", "cert-renew", "report-weekly", "sync-crm"];
  for (const name of jobs) {
    const r = await s.api(`/api/v1/jobs/ops/${name}`, { method: "PUT", token: alice.token, json: { schedule: "*/15 * * * *", labels: { env: "prod" } } });
    const { ping_url } = (await r.json()) as { ping_url: string };
    if (name === "invoice-run") await fetch(`${ping_url}/fail`);
    else if (name === "cert-renew") await fetch(`${ping_url}/start`);
    else if (name !== "sync-crm") await fetch(ping_url);
  }
  await s.api("/api/v1/jobs/ops/report-weekly/pause", { method: "POST", token: alice.token });
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

async function signIn(page: Page, email: string, password: string) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Reads the server's stdout until the setup link shows up. */
async function printedLink(stdout: ReadableStream<Uint8Array>): Promise<{ link: string; output: string }> {
  const reader = stdout.getReader();
  let output = "";
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    output += new TextDecoder().decode(value);
    const m = /(http:\/\/\S+\/setup\?token=\S+)/.exec(output);
    if (m) {
      reader.releaseLock();
      return { link: m[1]!, output };
    }
  }
  throw new Error(`no setup link in the output of serve:\n${output}`);
}

describe("first run", () => {
  test("the link `serve` prints sets up the first owner and tenant, once", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = Bun.spawn([BUN, MAIN, "serve"], {
      env: { ...process.env, CRONTOPUS_DATA_DIR: tempDir(), CRONTOPUS_PORT: String(port), CRONTOPUS_HOST: "127.0.0.1", CRONTOPUS_BASE_URL: base, CRONTOPUS_LOG_LEVEL: "error", NO_COLOR: "1" },
      stdout: "pipe",
      stderr: "inherit",
    });
    try {
      const { link, output } = await printedLink(proc.stdout);
      expect(output).toContain("No user yet. Open this link to create the first owner (it works once):");
      expect(link).toStartWith(`${base}/setup?token=`);

      const w = await open(browser, base);
      await w.page.goto(link);
      await expect(w.page.getByRole("heading", { name: "Set up Crontopus" }).isVisible()).resolves.toBe(true);
      await screenshots(w.page, "setup");
      expect(seriousOf(await axeViolations(w.page))).toEqual([]);
      await w.page.getByLabel("Your name").fill("Alice");
      await w.page.getByLabel("Email").fill("alice@example.com");
      await w.page.getByLabel("Password").fill(PASSWORD);
      await w.page.getByLabel("Organisation").fill("Acme Inc.");
      await w.page.getByLabel("Tenant slug").fill("acme");
      await w.page.getByRole("button", { name: "Create owner and tenant" }).click();
      await w.page.waitForURL(`${base}/`);
      expect(await w.page.getByRole("status").textContent()).toContain("Welcome. You own Acme Inc.");
      expect(await w.page.locator(".tenant-name").textContent()).toBe("Acme Inc.");
      await screenshots(w.page, "dashboard-empty");

      // The link is spent: another browser gets the page that says so.
      const other = await open(browser, base);
      const r = await other.page.goto(link);
      expect(r?.status()).toBe(404);
      expect(await other.page.getByRole("heading").first().textContent()).toBe("This setup link does not work");
      expectClean(w);
      expectClean(other);
      await w.context.close();
      await other.context.close();
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  });
});

describe("signing in", () => {
  test("log in: the dashboard counts the tenant's jobs by status", async () => {
    const w = await open(browser, s.url);
    const r = await w.page.goto(`${s.url}/login`);
    expect(r?.status()).toBe(200);
    await screenshots(w.page, "login");
    expect(seriousOf(await axeViolations(w.page))).toEqual([]);
    await signIn(w.page, alice.email, PASSWORD);
    await w.page.waitForURL(`${s.url}/`);
    const tiles = await w.page.locator(".tile").evaluateAll((els) => els.map((e) => `${e.querySelector("[data-job-status]")!.getAttribute("data-job-status")}=${e.querySelector(".count")!.textContent}`));
    expect(tiles).toEqual(["new=1", "up=2", "running=1", "late=0", "down=0", "failed=1", "paused=1"]);
    await screenshots(w.page, "dashboard");
    expect(seriousOf(await axeViolations(w.page))).toEqual([]);
    // The script loaded under the CSP.
    expect(await w.page.evaluate(() => typeof (window as unknown as { htmx?: unknown }).htmx)).toBe("object");
    expectClean(w);
    await w.context.close();
  });

  test("an alert's job link goes through the login form and back to the job", async () => {
    const w = await open(browser, s.url);
    await w.page.goto(`${s.url}/jobs/ops/db-backup`);
    expect(w.page.url()).toBe(`${s.url}/login?next=${encodeURIComponent("/jobs/ops/db-backup")}`);
    await signIn(w.page, alice.email, PASSWORD);
    await w.page.waitForURL(`${s.url}/jobs/ops/db-backup`);
    expect(await w.page.locator("[data-job-status]").first().getAttribute("data-job-status")).toBe("up");
    expect(await w.page.getByRole("link", { name: "Jobs" }).getAttribute("aria-current")).toBe("page");
    await screenshots(w.page, "job-pending");
    expectClean(w);
    await w.context.close();
  });

  test("a wrong password shows the error next to the password field, the email kept", async () => {
    const w = await open(browser, s.url);
    await w.page.goto(`${s.url}/login`);
    await signIn(w.page, alice.email, "not her password");
    const error = w.page.locator("#password-error");
    expect(await error.textContent()).toBe("Invalid email or password.");
    // In the password's own field box, right under the input, and announced with it.
    expect(await error.evaluate((e) => e.parentElement!.querySelector("input")!.id)).toBe("password");
    expect(await w.page.locator("#password").getAttribute("aria-describedby")).toBe("password-error");
    expect(await w.page.locator("#password").getAttribute("aria-invalid")).toBe("true");
    expect(await w.page.getByLabel("Email").inputValue()).toBe(alice.email);
    await screenshots(w.page, "login-error");
    expect(seriousOf(await axeViolations(w.page))).toEqual([]);
    expectClean(w);
    await w.context.close();
  });

  test("logout ends the session", async () => {
    const w = await open(browser, s.url);
    await w.page.goto(`${s.url}/login`);
    await signIn(w.page, alice.email, PASSWORD);
    await w.page.waitForURL(`${s.url}/`);
    await w.page.getByRole("button", { name: "Log out" }).click();
    await w.page.waitForURL(`${s.url}/login`);
    expect(await w.page.getByRole("status").textContent()).toBe("You are signed out.");
    await w.page.goto(`${s.url}/`);
    expect(w.page.url()).toBe(`${s.url}/login`);
    expectClean(w);
    await w.context.close();
  });

  test("the keyboard reaches the skip link first, and focus is visible", async () => {
    const w = await open(browser, s.url);
    await w.page.goto(`${s.url}/login`);
    await signIn(w.page, alice.email, PASSWORD);
    await w.page.waitForURL(`${s.url}/`);
    await w.page.keyboard.press("Tab");
    const focused = await w.page.evaluate(() => {
      const e = document.activeElement as HTMLElement;
      const style = getComputedStyle(e);
      return { text: e.textContent, outline: style.outlineStyle, width: style.outlineWidth, top: e.getBoundingClientRect().top };
    });
    expect(focused.text).toBe("Skip to content");
    expect(focused.outline).toBe("solid");
    expect(focused.width).toBe("3px");
    expect(focused.top).toBeGreaterThanOrEqual(0);
    await w.context.close();
  });
});

describe("security", () => {
  test("a form POST without the CSRF token is refused, and the session goes on", async () => {
    const w = await open(browser, s.url);
    await w.page.goto(`${s.url}/login`);
    await signIn(w.page, alice.email, PASSWORD);
    await w.page.waitForURL(`${s.url}/`);
    // What a forged form would lack: the token. (The script is not what sends forms.)
    await w.page.evaluate(() => document.querySelectorAll('input[name="csrf"]').forEach((e) => e.remove()));
    const [response] = await Promise.all([w.page.waitForResponse((r) => r.url() === `${s.url}/logout`), w.page.getByRole("button", { name: "Log out" }).click()]);
    expect(response.status()).toBe(403);
    expect(await w.page.getByRole("heading", { name: "Form expired" }).isVisible()).toBe(true);
    await screenshots(w.page, "form-expired");
    await w.page.goto(`${s.url}/`);
    expect(w.page.url()).toBe(`${s.url}/`);
    expectClean(w);
    await w.context.close();
  });

  test("htmx requests carry the CSRF token as a header", async () => {
    const w = await open(browser, s.url);
    await w.page.goto(`${s.url}/login`);
    await signIn(w.page, alice.email, PASSWORD);
    await w.page.waitForURL(`${s.url}/`);
    const sent = w.page.waitForRequest((r) => r.url() === `${s.url}/switch-tenant`);
    const answered = w.page.waitForResponse((r) => r.url() === `${s.url}/switch-tenant`);
    await w.page.evaluate(() => (window as unknown as { htmx: { ajax(v: string, p: string, o: unknown): Promise<void> } }).htmx.ajax("POST", "/switch-tenant", { values: { tenant: "globex", next: "/" } }));
    const request = await sent;
    expect(request.headers()["x-csrf-token"]).toBe((await w.page.locator('meta[name="csrf-token"]').getAttribute("content")) ?? "no token");
    expect(request.postData()).not.toContain("csrf=");
    expect((await answered).status()).toBe(200);
    await w.page.goto(`${s.url}/`);
    expect(await w.page.locator("#tenant-switch").inputValue()).toBe("globex");
    expectClean(w);
    await w.context.close();
  });

  test("every page has a strict CSP without unsafe-inline, and nothing on them breaks it", async () => {
    const w = await open(browser, s.url);
    const paths = ["/login", "/", "/jobs", "/jobs/ops/db-backup", "/runs", "/timeline", "/agents", "/settings", "/account/password", "/jobs/ops/nope"];
    let signedIn = false;
    for (const path of paths) {
      const r = await w.page.goto(s.url + path);
      if (!signedIn && path !== "/login") {
        await signIn(w.page, alice.email, PASSWORD);
        await w.page.waitForURL(s.url + path);
        signedIn = true;
      }
      const csp = (await r!.allHeaders())["content-security-policy"] ?? "";
      expect(`${path}: ${csp.split("; ").find((d) => d.startsWith("script-src"))}`).toBe(`${path}: script-src 'self'`);
      expect(csp).not.toContain("unsafe-inline");
    }
    await w.page.goto(`${s.url}/account/password`);
    await screenshots(w.page, "password");
    expect(seriousOf(await axeViolations(w.page))).toEqual([]);
    // An inline script (what an injection would be) is refused by the browser.
    await w.page.evaluate(() => {
      const el = document.createElement("script");
      el.textContent = "window.injected = true";
      document.body.append(el);
    });
    expect(await w.page.evaluate(() => (window as unknown as { injected?: boolean }).injected)).toBeUndefined();
    expect(w.problems.filter((p) => /inline script/i.test(p)).length).toBe(1);
    expect(w.elsewhere).toEqual([]);
    await w.context.close();
  });
});

describe("dark theme and phone width", () => {
  test("the dark theme follows the system and passes the same check", async () => {
    const w = await open(browser, s.url, { colorScheme: "dark" });
    await w.page.goto(`${s.url}/login`);
    expect(seriousOf(await axeViolations(w.page))).toEqual([]);
    await screenshots(w.page, "login-dark");
    await signIn(w.page, alice.email, PASSWORD);
    await w.page.waitForURL(`${s.url}/`);
    const background = await w.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe("rgb(16, 19, 24)");
    expect(seriousOf(await axeViolations(w.page))).toEqual([]);
    await screenshots(w.page, "dashboard-dark");
    expectClean(w);
    await w.context.close();
  });

  test("at 360 px nothing is wider than the screen", async () => {
    const w = await open(browser, s.url, { width: "phone" });
    await w.page.goto(`${s.url}/login`);
    await signIn(w.page, alice.email, PASSWORD);
    await w.page.waitForURL(`${s.url}/`);
    for (const path of ["/", "/account/password", "/jobs/ops/db-backup"]) {
      await w.page.goto(s.url + path);
      const widths = await w.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      expect(`${path} ${widths[0]! <= widths[1]!}`).toBe(`${path} true`);
    }
    expect(seriousOf(await axeViolations(w.page))).toEqual([]);
    expectClean(w);
    await w.context.close();
  });
});
