// The settings pages in a real browser (Debian's Chromium), offline: every request to another host
// is aborted, and none may be made. Alice adds a webhook channel in the form (a wrong name first)
// and tests it from the list, the result appearing in place, against a real local receiver; creates
// an API token, copies it with the Copy button and uses the copy against the API, then revokes it
// after the browser's confirmation; rotates the ping key after its page of warning and sees the old
// slug URL refused. Every settings page passes axe's WCAG 2 A/AA check in light and dark, fits a
// 360 px phone, and is saved as screenshots at 1280 and 360 px (test/console/screenshots/).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { findTenant, getTenantSettings, updateTenantSettings } from "../../src/tenants/tenants";
import { createChannel, findChannel } from "../../src/alerts/channels";
import { createEnrollmentToken } from "../../src/agents/enrollment";
import { PASSWORD, persona, startTestServer, type Persona, type TestServer } from "../helpers";
import { RECEIVER_ENV, startReceiver } from "../receiver";
import { axeViolations, launch, open, screenshots, seriousOf, type Watched, signIn, expectClean } from "./browser";

let browser: Browser;
let s: TestServer;
let receiver: ReturnType<typeof startReceiver>;
let alice: Persona;
let acme = "";

beforeAll(async () => {
  browser = await launch();
  receiver = startReceiver();
  s = await startTestServer({ ...RECEIVER_ENV });
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "bob", "acme", "viewer");
  acme = findTenant(s.db, "acme")!.id;
  updateTenantSettings(s.db, acme, { name: "Acme Inc." });
  // Something on each page: a channel of each kind of target, an enrollment token that is used up.
  const deps = { secrets: s.ctx.secrets, allowPrivateTargets: true };
  createChannel(s.db, deps, acme, { name: "team-slack", type: "slack", config: { url: "https://hooks.slack.com/services/T0/B0/secret" } }, Date.now());
  createChannel(s.db, deps, acme, { name: "oncall-mail", type: "email", config: { to: ["oncall@acme.test"] } }, Date.now());
  createEnrollmentToken(s.db, acme, alice.id, { name: "web servers", labels: { role: "web" }, max_uses: 5 }, Date.now());
  const r = await s.api("/api/v1/jobs/default/nightly", { method: "PUT", token: alice.token, json: { schedule: "@daily", alerts: { channels: [] } } });
  expect(r.status).toBeLessThan(300);
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
  receiver?.stop();
});

async function signedIn(opts: { width?: "desktop" | "phone"; colorScheme?: "light" | "dark"; email?: string } = {}): Promise<Watched> {
  return signIn(browser, s.url, opts.email ?? alice.email, PASSWORD, { width: opts.width, colorScheme: opts.colorScheme });
}

describe("channels", () => {
  test("add a webhook in the form (a wrong name first), test it from the list and see the result in place; remove it after its page", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/settings/channels`);
    await page.getByRole("link", { name: "Add a channel" }).click();
    await page.waitForURL(`${s.url}/settings/channels/new`);
    expect(await page.locator('.type-tabs a[aria-current="page"]').textContent()).toBe("Webhook");
    await page.getByLabel("Name").fill("Ops Hook");
    await page.getByLabel("URL").fill(`${receiver.url}/ops`);
    await page.getByLabel("Signing secret").fill("s3cret");
    await page.getByRole("button", { name: "Add channel" }).click();
    await page.locator("#name-error").waitFor();
    expect(await page.getByLabel("Name").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("URL").inputValue()).toBe(`${receiver.url}/ops`);
    await screenshots(page, "settings-channel-form");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await page.getByLabel("Name").fill("ops-hook");
    await page.getByLabel("Signing secret").fill("s3cret");
    await page.getByRole("button", { name: "Add channel" }).click();
    await page.waitForURL(`${s.url}/settings/channels`);
    expect(await page.getByRole("status").first().textContent()).toContain("Added channel ops-hook.");

    // Test: htmx swaps the result into the channel's card; the page stays where it is.
    const card = page.locator("li.item", { has: page.locator(".item-name", { hasText: /^ops-hook$/ }) });
    const seen = receiver.received.length;
    await card.getByRole("button", { name: "Test ops-hook" }).click();
    await card.locator(".test-result.test-ok").waitFor({ timeout: 15_000 });
    expect(await card.locator(".test-result").textContent()).toBe("Test message sent: the receiver answered 200.");
    expect(page.url()).toBe(`${s.url}/settings/channels`);
    const got = receiver.received.slice(seen).filter((r) => r.path === "/ops");
    expect(got.map((r) => r.headers.get("x-crontopus-event"))).toEqual(["test"]);
    await screenshots(page, "settings-channels-tested");
    expect(seriousOf(await axeViolations(page))).toEqual([]);

    // A receiver that fails: the failure in its place, as an alert.
    receiver.state.status = 500;
    try {
      await card.getByRole("button", { name: "Test ops-hook" }).click();
      await card.locator(".test-result.test-failed").waitFor({ timeout: 15_000 });
      expect(await card.getByRole("alert").textContent()).toBe("Not delivered: HTTP 500: ok.");
    } finally {
      receiver.state.status = 200;
    }

    // Remove: a page that asks, then the list without it.
    const id = (await card.getByRole("link", { name: "Remove ops-hook" }).getAttribute("href"))!.split("/")[3]!;
    await card.getByRole("link", { name: "Remove ops-hook" }).click();
    await page.getByRole("heading", { name: "Remove channel ops-hook?" }).waitFor();
    await page.getByRole("button", { name: "Remove the channel" }).click();
    await page.waitForURL(`${s.url}/settings/channels`);
    expect(await page.getByRole("status").first().textContent()).toBe("Removed channel ops-hook.");
    expect(findChannel(s.db, acme, id)).toBeNull();
    expectClean(w);
    await w.context.close();
  });
});

describe("API tokens", () => {
  test("create one, copy it with the button, use the copy against the API; revoke it after the confirmation", async () => {
    const w = await signedIn();
    const { page } = w;
    await w.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: s.url });
    await page.goto(`${s.url}/settings/tokens`);
    await page.getByLabel("Name").fill("ci-deploy");
    await page.getByLabel(/^admin:/).uncheck();
    await page.getByLabel("Expires after (days)").fill("30");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.locator("#new-token").waitFor();
    const shown = (await page.locator("#new-token").textContent())!;
    expect(shown).toMatch(/^ctp_/);
    await page.locator('button[data-copy="#new-token"]').click();
    await page.locator('button[data-copy="#new-token"]', { hasText: "Copied" }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(shown);
    const me = await s.api("/api/v1/me", { token: copied });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { scopes: string[] }).scopes).toEqual(["read", "write"]);
    await screenshots(page, "settings-token-created");
    expect(seriousOf(await axeViolations(page))).toEqual([]);

    // Shown once: the page again has no secret.
    await page.goto(`${s.url}/settings/tokens`);
    expect(await page.locator("#new-token").count()).toBe(0);
    let asked = "";
    page.once("dialog", (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.getByRole("button", { name: "Revoke ci-deploy" }).click();
    await page.getByRole("status").filter({ hasText: "Revoked the token ci-deploy" }).waitFor();
    expect(asked).toBe("Revoke the token ci-deploy? Whatever uses it is refused from then on.");
    expect((await s.api("/api/v1/me", { token: copied })).status).toBe(401);
    await screenshots(page, "settings-tokens");
    expectClean(w);
    await w.context.close();
  });
});

describe("tenant settings", () => {
  test("rotate the ping key after its page of warning: the old slug URL answers 404, the new one 200", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/settings`);
    const old = (await page.locator("#ping-key").textContent())!;
    expect(old).toBe(getTenantSettings(s.db, acme).ping_key);
    expect((await fetch(`${s.url}/ping/${old}/nightly`)).status).toBe(200);
    await page.getByRole("link", { name: "Rotate the ping key…" }).click();
    await page.getByRole("heading", { name: "Rotate the ping key?" }).waitFor();
    expect(await page.locator("main").textContent()).toContain("Every slug ping URL of this tenant stops working at once");
    await screenshots(page, "settings-rotate");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await page.getByRole("button", { name: "Rotate the ping key" }).click();
    await page.waitForURL(`${s.url}/settings`);
    await page.getByRole("status").filter({ hasText: "New ping key." }).waitFor();
    const fresh = (await page.locator("#ping-key").textContent())!;
    expect(fresh).not.toBe(old);
    expect((await fetch(`${s.url}/ping/${old}/nightly`)).status).toBe(404);
    expect((await fetch(`${s.url}/ping/${fresh}/nightly`)).status).toBe(200);

    // A setting out of range: the error under its field, focusable and announced with it.
    await page.getByLabel("Keep history for (days)").fill("0");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.locator("#retention_days-error").waitFor();
    expect(await page.locator("#retention_days-error").textContent()).toBe("Must be 1 to 3650.");
    expect(await page.getByLabel("Keep history for (days)").getAttribute("aria-describedby")).toContain("retention_days-error");
    await screenshots(page, "settings-tenant-error");
    await page.getByLabel("Keep history for (days)").fill("60");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByRole("status").filter({ hasText: "Settings saved." }).waitFor();
    expect(getTenantSettings(s.db, acme).retention_days).toBe(60);
    expectClean(w);
    await w.context.close();
  });
});

describe("every settings page", () => {
  const pages = ["/settings", "/settings/channels", "/settings/channels/new", "/settings/tokens", "/settings/enrollment"];

  test("passes the WCAG check in light and dark, and is saved as screenshots", async () => {
    for (const colorScheme of ["light", "dark"] as const) {
      const w = await signedIn({ colorScheme });
      for (const path of pages) {
        await w.page.goto(s.url + path);
        expect(`${colorScheme} ${path}: ${seriousOf(await axeViolations(w.page)).join("; ")}`).toBe(`${colorScheme} ${path}: `);
        const name = `settings${path.slice("/settings".length).replaceAll("/", "-") || "-tenant"}${colorScheme === "dark" ? "-dark" : ""}`;
        await screenshots(w.page, name);
      }
      expectClean(w);
      await w.context.close();
    }
  });

  test("fits a 360 px phone", async () => {
    const w = await signedIn({ width: "phone" });
    for (const path of [...pages, "/settings/rotate-key?key=ping_key"]) {
      await w.page.goto(s.url + path);
      const [scroll, inner] = await w.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      expect(`${path} ${scroll! <= inner!}`).toBe(`${path} true`);
    }
    expectClean(w);
    await w.context.close();
  });

  test("a viewer's pages: the lists without a control that would fail, and the WCAG check", async () => {
    const w = await signedIn({ email: "bob@example.com" });
    const { page } = w;
    await page.goto(`${s.url}/settings/channels`);
    expect(await page.locator(".item-name").allTextContents()).toEqual(["oncall-mail", "team-slack"]);
    expect(await page.getByRole("button").filter({ hasText: /Test|Edit|Remove/ }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Add a channel" }).count()).toBe(0);
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await screenshots(page, "settings-channels-viewer");
    await page.goto(`${s.url}/settings`);
    expect(await page.getByRole("button", { name: "Save settings" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: /Rotate/ }).count()).toBe(0);
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    expectClean(w);
    await w.context.close();
  });
});
