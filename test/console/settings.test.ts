// The settings pages over HTTP, without a browser. Alice owns acme; mia is a member there and bob a
// viewer; gina owns globex, whose channels and tokens acme must never reach. Alice changes the
// tenant's settings (errors under their fields), rotates its keys (the old slug URL stops working),
// adds, edits, tests (against a real local webhook receiver and a real SMTP relay) and removes
// channels, makes API and enrollment tokens (each shown once, and working until revoked). Mia may
// run the channels but not the tenant; bob sees what the API lets him read and no button that would
// fail; every change needs the CSRF token; hostile names show as text.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { findTenant, getTenantSettings } from "../../src/tenants/tenants";
import { createChannel, findChannel, readChannelConfig } from "../../src/alerts/channels";
import { signBody } from "../../src/alerts/senders";
import { createApiToken, listApiTokens } from "../../src/auth/apitokens";
import { createEnrollmentToken, listEnrollmentTokens } from "../../src/agents/enrollment";
import { PASSWORD, persona, startTestServer, type Persona, type TestServer } from "../helpers";
import { RECEIVER_ENV, startReceiver } from "../receiver";
import { startSmtpServer, type SmtpServer } from "../smtp";
import { FormClient } from "./client";

const DAY = 86_400_000;
let s: TestServer;
let smtp: SmtpServer;
let receiver: ReturnType<typeof startReceiver>;
let alice: Persona, gina: Persona;
let acme = "";
let globex = "";
let alicePage: FormClient, miaPage: FormClient, bobPage: FormClient;

beforeAll(async () => {
  smtp = await startSmtpServer();
  receiver = startReceiver();
  s = await startTestServer({ ...RECEIVER_ENV, CRONTOPUS_SMTP_URL: smtp.url, CRONTOPUS_SMTP_FROM: "crontopus@acme.test" });
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "mia", "acme", "member");
  await persona(s.db, "bob", "acme", "viewer");
  gina = await persona(s.db, "gina", "globex", "owner");
  acme = findTenant(s.db, "acme")!.id;
  globex = findTenant(s.db, "globex")!.id;
  alicePage = new FormClient(s.url);
  await alicePage.login(alice.email, PASSWORD);
  miaPage = new FormClient(s.url);
  await miaPage.login("mia@example.com", PASSWORD);
  bobPage = new FormClient(s.url);
  await bobPage.login("bob@example.com", PASSWORD);
});
afterAll(async () => {
  await s.close();
  receiver.stop();
  smtp.stop();
});

/** The text of some HTML, its entities decoded. */
const text = (html: string) => html.replaceAll("&quot;", '"').replaceAll("&#x27;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
/** The error shown under a field, or null. */
const errorUnder = (html: string, id: string) => {
  const m = new RegExp(`id="${id}-error">([^<]*)<`).exec(html);
  return m ? text(m[1]!) : null;
};
/** The markup outside attribute values (where a tag could start). */
const markup = (html: string) => html.replace(/="[^"]*"/g, '=""');
const main = (html: string) => /<main[\s\S]*<\/main>/.exec(html)![0];
const channelIdOf = (name: string, tenantId = acme) =>
  s.db.query<{ id: string }, [string, string]>("SELECT id FROM channels WHERE tenant_id = ? AND name = ?").get(tenantId, name)?.id ?? "";
const hx = { "hx-request": "true" };
/** What the receiver got at `path` (each test's channels have paths of their own). */
const hitsTo = (path: string) => receiver.received.filter((r) => r.path === path);

async function addChannel(page: FormClient, form: Record<string, string>) {
  await page.get(`/settings/channels/new?type=${form.type}`);
  return page.post("/settings/channels/new", form);
}

describe("tenant settings", () => {
  test("every member sees them; alice saves name, retention and auto-provisioning, which the API then shows", async () => {
    const { r, html } = await alicePage.get("/settings");
    expect(r.status).toBe(200);
    const settings = getTenantSettings(s.db, acme);
    expect(html).toContain(`<code id="ping-key" class="url" aria-labelledby="ping-key-label">${settings.ping_key}</code>`);
    expect(html).toContain(`<code id="badge-key" class="url" aria-labelledby="badge-key-label">${settings.badge_key}</code>`);
    expect(html).toContain('<a href="/settings" aria-current="page">Tenant</a>');

    // Auto-provisioning off: a ping to an unknown slug with ?create=1 is a 404.
    expect((await fetch(`${s.url}/ping/${settings.ping_key}/made-by-ping?create=1`)).status).toBe(404);
    const saved = await alicePage.post("/settings", { name: "Acme Inc.", retention_days: "30", retention_runs: "500", auto_provision: "on" });
    expect(saved.r.status).toBe(303);
    expect(saved.r.headers.get("location")).toBe("/settings");
    const after = await alicePage.get("/settings");
    expect(after.html).toContain("Settings saved.");
    expect(after.html).toContain('<input id="retention_days" name="retention_days" type="number" value="30"');
    expect(after.html).toMatch(/<input type="checkbox" id="auto_provision" name="auto_provision" value="on" checked/);
    const api = await (await s.api("/api/v1/tenants/current", { token: alice.token })).json();
    expect(api).toMatchObject({ name: "Acme Inc.", retention_days: 30, retention_runs: 500, auto_provision: true });
    expect((await fetch(`${s.url}/ping/${settings.ping_key}/made-by-ping?create=1`)).status).toBe(201);

    // The box left unticked turns it off again.
    await alicePage.get("/settings");
    await alicePage.post("/settings", { name: "Acme Inc.", retention_days: "30", retention_runs: "500" });
    expect(getTenantSettings(s.db, acme).auto_provision).toBe(false);
  });

  test("errors stand under their field, marked invalid, with what was typed kept; nothing is saved", async () => {
    const before = getTenantSettings(s.db, acme);
    await alicePage.get("/settings");
    const { r, html } = await alicePage.post("/settings", { name: "Renamed", retention_days: "0", retention_runs: "500", auto_provision: "on" });
    expect(r.status).toBe(422);
    expect(errorUnder(html, "retention_days")).toBe("Must be 1 to 3650.");
    expect(html).toContain('<input id="retention_days" name="retention_days" type="number" value="0" aria-invalid="true"');
    expect(html).toContain('value="Renamed"');
    expect(getTenantSettings(s.db, acme)).toEqual(before);

    expect(errorUnder((await alicePage.post("/settings", { name: "Acme", retention_days: "30", retention_runs: "lots" })).html, "retention_runs")).toBe("Must be 10 to 100000.");
    expect(errorUnder((await alicePage.post("/settings", { name: "  ", retention_days: "30", retention_runs: "500" })).html, "name")).toBe("Must not be empty.");
    expect(getTenantSettings(s.db, acme)).toEqual(before);
  });

  test("rotating the ping key asks first, saying what breaks; then the old slug URL answers 404 and the new one works", async () => {
    const put = await s.api("/api/v1/jobs/default/nightly", { method: "PUT", token: alice.token, json: { schedule: "@daily", alerts: { channels: [] } } });
    expect(put.status).toBeLessThan(300);
    const old = getTenantSettings(s.db, acme).ping_key;
    expect((await fetch(`${s.url}/ping/${old}/nightly`)).status).toBe(200);

    const settingsPage = await alicePage.get("/settings");
    expect(settingsPage.html).toContain('<a class="button button-quiet button-small" href="/settings/rotate-key?key=ping_key">Rotate the ping key…</a>');
    const ask = await alicePage.get("/settings/rotate-key?key=ping_key");
    expect(ask.r.status).toBe(200);
    expect(main(ask.html)).toContain("Every slug ping URL of this tenant stops working at once");
    expect(ask.html).toContain(`${s.url}/ping/${old}/…`);
    expect(getTenantSettings(s.db, acme).ping_key).toBe(old);

    const done = await alicePage.post("/settings/rotate-key", { key: "ping_key" });
    expect(done.r.status).toBe(303);
    const fresh = getTenantSettings(s.db, acme).ping_key;
    expect(fresh).not.toBe(old);
    const shown = await alicePage.get("/settings");
    expect(shown.html).toContain("New ping key. Slug ping URLs with the old key answer 404 now");
    expect(shown.html).toContain(`<code id="ping-key" class="url" aria-labelledby="ping-key-label">${fresh}</code>`);
    expect((await fetch(`${s.url}/ping/${old}/nightly`)).status).toBe(404);
    expect((await fetch(`${s.url}/ping/${fresh}/nightly`)).status).toBe(200);
    // The job's page gives the new slug URL.
    expect((await alicePage.get("/jobs/default/nightly")).html).toContain(`${s.url}/ping/${fresh}/nightly`);
  });

  test("rotating the badge key breaks the old badge URLs; an unknown key is a 404 page", async () => {
    await s.api("/api/v1/jobs/default/badged", { method: "PUT", token: alice.token, json: { schedule: "@daily", alerts: { channels: [] } } });
    const old = getTenantSettings(s.db, acme).badge_key;
    expect((await fetch(`${s.url}/badge/${old}/default/badged.svg`)).status).toBe(200);
    expect(main((await alicePage.get("/settings/rotate-key?key=badge_key")).html)).toContain("Every status badge URL of this tenant stops working at once");
    expect((await alicePage.post("/settings/rotate-key", { key: "badge_key" })).r.status).toBe(303);
    const fresh = getTenantSettings(s.db, acme).badge_key;
    expect((await fetch(`${s.url}/badge/${old}/default/badged.svg`)).status).toBe(404);
    expect((await fetch(`${s.url}/badge/${fresh}/default/badged.svg`)).status).toBe(200);

    expect((await alicePage.get("/settings/rotate-key?key=tenant_id")).r.status).toBe(404);
    expect((await alicePage.post("/settings/rotate-key", { key: "slug" })).r.status).toBe(404);
  });
});

describe("channels", () => {
  test("add a webhook: wrong fields come back under their field, then it is listed with its target and the API has it", async () => {
    const form = await alicePage.get("/settings/channels/new");
    expect(form.html).toContain('<a href="/settings/channels/new?type=webhook" aria-current="page">Webhook</a>');
    let r = await addChannel(alicePage, { type: "webhook", name: "Ops Hook", url: "ftp://example.com/x" });
    expect(r.r.status).toBe(422);
    expect(errorUnder(r.html, "name")).toStartWith("Must be 1-63 lower-case letters, digits or");
    r = await alicePage.post("/settings/channels/new", { type: "webhook", name: "ops-hook", url: "ftp://example.com/x" });
    expect(errorUnder(r.html, "url")).toBe('Must be an http(s) URL, got "ftp://example.com/x".');
    expect(r.html).toContain('value="ftp://example.com/x" required aria-invalid="true"');
    r = await alicePage.post("/settings/channels/new", { type: "webhook", name: "ops-hook", url: `${receiver.url}/hook`, headers: "X-Team ops" });
    expect(errorUnder(r.html, "headers")).toBe('Line 1 ("X-Team ops"): write each header as Name: value.');
    r = await alicePage.post("/settings/channels/new", { type: "webhook", name: "ops-hook", url: `${receiver.url}/hook`, headers: "Bad Header: x" });
    expect(errorUnder(r.html, "headers")).toBe("Bad Header: is not a valid header name.");
    expect(channelIdOf("ops-hook")).toBe("");

    r = await alicePage.post("/settings/channels/new", { type: "webhook", name: "ops-hook", url: `${receiver.url}/hook?token=abc`, secret: "first-secret", headers: "X-Team: ops" });
    expect(r.r.status).toBe(303);
    expect(r.r.headers.get("location")).toBe("/settings/channels");
    const list = await alicePage.get("/settings/channels");
    expect(list.html).toContain("Added channel ops-hook.");
    expect(list.html).toContain(`<code class="item-target">${receiver.url}/hook?token=****</code>`);
    expect(list.html).not.toContain("first-secret");
    const api = (await (await s.api("/api/v1/channels", { token: alice.token })).json()) as { channels: { name: string; config: Record<string, unknown> }[] };
    expect(api.channels.find((c) => c.name === "ops-hook")?.config).toEqual({ url: `${receiver.url}/hook?token=****`, secret: "********", headers: { "X-Team": "ops" } });

    // A name taken is an error under Name.
    r = await addChannel(alicePage, { type: "webhook", name: "ops-hook", url: `${receiver.url}/other` });
    expect(errorUnder(r.html, "name")).toBe("A channel of this name exists already: choose another name.");
  });

  test("Test sends through the channel and shows the result in place (htmx), or on a page of its own without the script", async () => {
    await addChannel(alicePage, { type: "webhook", name: "test-hook", url: `${receiver.url}/tested`, secret: "sign-me" });
    const id = channelIdOf("test-hook");
    const list = await alicePage.get("/settings/channels");
    expect(list.html).toContain(`<form method="post" action="/settings/channels/${id}/test" hx-post="/settings/channels/${id}/test" hx-target="#test-${id}" hx-swap="outerHTML"`);
    expect(list.html).toContain(`<div id="test-${id}" class="test-result" aria-live="polite"></div>`);

    let r = await alicePage.post(`/settings/channels/${id}/test`, {}, { headers: hx });
    expect(r.r.status).toBe(200);
    expect(r.html).toBe(`<div id="test-${id}" class="test-result test-ok" role="status" aria-live="polite">Test message sent: the receiver answered 200.</div>`);
    const got = hitsTo("/tested");
    expect(got.length).toBe(1);
    expect(got[0]!.headers.get("x-crontopus-event")).toBe("test");
    expect(got[0]!.headers.get("x-crontopus-signature")).toBe(signBody("sign-me", got[0]!.body));

    // A receiver that fails: the failure, in place.
    receiver.state.status = 500;
    try {
      r = await alicePage.post(`/settings/channels/${id}/test`, {}, { headers: hx });
      expect(r.html).toBe(`<div id="test-${id}" class="test-result test-failed" role="alert" aria-live="polite">Not delivered: HTTP 500: ok.</div>`);
      // The plain form post: a whole page with the same result and the way back.
      r = await alicePage.post(`/settings/channels/${id}/test`, {});
      expect(r.r.status).toBe(200);
      expect(r.html).toContain("<h1>Test of test-hook</h1>");
      expect(r.html).toContain("Not delivered: HTTP 500: ok.");
      expect(r.html).toContain('<a href="/settings/channels">Back to the channels</a>');
    } finally {
      receiver.state.status = 200;
    }
    // Each test went through the outbox as the API's /test does: its deliveries say so.
    const deliveries = (await (await s.api(`/api/v1/channels/${id}/deliveries`, { token: alice.token })).json()) as { deliveries: { event: string; status: string }[] };
    expect(deliveries.deliveries.filter((d) => d.event === "test").map((d) => d.status)).toEqual(["failed", "failed", "sent"]);
  });

  test("an email channel's test goes through the SMTP relay", async () => {
    await addChannel(alicePage, { type: "email", name: "oncall-mail", to: "oncall@acme.test,\nboss@acme.test" });
    const id = channelIdOf("oncall-mail");
    expect((await alicePage.get("/settings/channels")).html).toContain('<code class="item-target">oncall@acme.test, boss@acme.test</code>');
    const r = await alicePage.post(`/settings/channels/${id}/test`, {}, { headers: hx });
    expect(r.html).toContain("Test message sent: the mail relay answered 250.");
    const mail = await smtp.next();
    expect(mail.to).toEqual(["oncall@acme.test", "boss@acme.test"]);
    expect(mail.event).toBe("test");
    const bad = await addChannel(alicePage, { type: "email", name: "bad-mail", to: "not an address" });
    expect(errorUnder(bad.html, "to")).toBe('Entry 1 is not an email address: "not an address".');
  });

  test("edit: a stored secret is never shown, only that one is set; left empty it is kept, typed it is replaced, ticked it is removed", async () => {
    await addChannel(alicePage, { type: "webhook", name: "signed", url: `${receiver.url}/signed`, secret: "old-secret", headers: "Authorization: Bearer hunter2\nX-Team: ops" });
    const id = channelIdOf("signed");
    const form = await alicePage.get(`/settings/channels/${id}/edit`);
    expect(form.r.status).toBe(200);
    expect(form.html).not.toContain("old-secret");
    expect(form.html).not.toContain("hunter2");
    expect(form.html).toContain('<input id="secret" name="secret" type="password" autocomplete="off"');
    expect(form.html).toContain("One is set (not shown). Leave this empty to keep it");
    expect(form.html).toContain("Authorization: ********\nX-Team: ops</textarea>");

    const signatureOfTest = async () => {
      const seen = hitsTo("/signed").length;
      await alicePage.post(`/settings/channels/${id}/test`, {}, { headers: hx });
      const got = hitsTo("/signed")[seen]!;
      return { got, signature: got.headers.get("x-crontopus-signature") };
    };
    // Sent back as shown (secret empty, the masked header as it was): both kept; the name changes.
    let r = await alicePage.post(`/settings/channels/${id}/edit`, { type: "webhook", name: "signed-hook", url: `${receiver.url}/signed`, secret: "", headers: "Authorization: ********\nX-Team: ops" });
    expect(r.r.status).toBe(303);
    expect(findChannel(s.db, acme, id)?.name).toBe("signed-hook");
    let sent = await signatureOfTest();
    expect(sent.signature).toBe(signBody("old-secret", sent.got.body));
    expect(sent.got.headers.get("authorization")).toBe("Bearer hunter2");

    await alicePage.get(`/settings/channels/${id}/edit`);
    r = await alicePage.post(`/settings/channels/${id}/edit`, { type: "webhook", name: "signed-hook", url: `${receiver.url}/signed`, secret: "new-secret", headers: "X-Team: ops" });
    sent = await signatureOfTest();
    expect(sent.signature).toBe(signBody("new-secret", sent.got.body));
    expect(sent.got.headers.get("authorization")).toBeNull();

    await alicePage.get(`/settings/channels/${id}/edit`);
    await alicePage.post(`/settings/channels/${id}/edit`, { type: "webhook", name: "signed-hook", url: `${receiver.url}/signed`, clear_secret: "on" });
    sent = await signatureOfTest();
    expect(sent.signature).toBeNull();
    expect(readChannelConfig(s.db, s.ctx.secrets, acme, id)).toEqual({ url: `${receiver.url}/signed` });
  });

  test("a chat channel's URL shows masked; saved unchanged it keeps the stored URL; another type's tab replaces the config", async () => {
    const hook = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
    await addChannel(alicePage, { type: "slack", name: "team-slack", url: hook });
    const id = channelIdOf("team-slack");
    expect((await alicePage.get("/settings/channels")).html).toContain('<code class="item-target">https://hooks.slack.com/****</code>');
    const form = await alicePage.get(`/settings/channels/${id}/edit`);
    expect(form.html).toContain('value="https://hooks.slack.com/****"');
    expect(form.html).toContain("The secret part shows as ****");
    expect(form.html).not.toContain("XXXXSECRET");
    await alicePage.post(`/settings/channels/${id}/edit`, { type: "slack", name: "team-slack", url: "https://hooks.slack.com/****" });
    expect(readChannelConfig(s.db, s.ctx.secrets, acme, id)).toEqual({ url: hook });

    // The ntfy tab of the same channel: its fields empty, a note that the whole config is replaced.
    const other = await alicePage.get(`/settings/channels/${id}/edit?type=ntfy`);
    expect(other.html).toContain("This changes the channel from Slack to ntfy");
    expect(other.html).toContain('<input id="url" name="url" type="url" value="" required');
    await alicePage.post(`/settings/channels/${id}/edit`, { type: "ntfy", name: "team-slack", url: "https://ntfy.example.com/acme-alerts", token: "tk_1", priority: "high" });
    expect(findChannel(s.db, acme, id)?.type).toBe("ntfy");
    expect(readChannelConfig(s.db, s.ctx.secrets, acme, id)).toEqual({ url: "https://ntfy.example.com/acme-alerts", token: "tk_1", priority: "high" });
    // A priority ntfy does not have is an error under Priority.
    await alicePage.get(`/settings/channels/${id}/edit`);
    const bad = await alicePage.post(`/settings/channels/${id}/edit`, { type: "ntfy", name: "team-slack", url: "https://ntfy.example.com/****", priority: "loud" });
    expect(bad.r.status).toBe(422);
    expect(errorUnder(bad.html, "priority")).toStartWith("Must be one of min, low, default");
  });

  test("a PagerDuty channel keeps its integration key when the field is left empty", async () => {
    await addChannel(alicePage, { type: "pagerduty", name: "pager", routing_key: "R0UT1NGKEY", severity: "error" });
    const id = channelIdOf("pager");
    const form = await alicePage.get(`/settings/channels/${id}/edit`);
    expect(form.html).not.toContain("R0UT1NGKEY");
    expect(form.html).toMatch(/<option value="error" selected>error<\/option>/);
    await alicePage.post(`/settings/channels/${id}/edit`, { type: "pagerduty", name: "pager", routing_key: "", severity: "warning" });
    expect(readChannelConfig(s.db, s.ctx.secrets, acme, id)).toEqual({ routing_key: "R0UT1NGKEY", severity: "warning" });
    const missing = await addChannel(alicePage, { type: "pagerduty", name: "pager-2", routing_key: "" });
    expect(errorUnder(missing.html, "routing_key")).toBe("Is required: the integration key of an Events API v2 integration.");
  });

  test("remove asks on a page of its own first; then the channel is gone", async () => {
    await addChannel(alicePage, { type: "discord", name: "doomed", url: "https://discord.com/api/webhooks/1/abc" });
    const id = channelIdOf("doomed");
    const ask = await alicePage.get(`/settings/channels/${id}/remove`);
    expect(ask.r.status).toBe(200);
    expect(ask.html).toContain("<h1>Remove channel doomed?</h1>");
    expect(ask.html).toContain("a job that names only this one alerts nobody");
    expect(findChannel(s.db, acme, id)).not.toBeNull();
    const done = await alicePage.post(`/settings/channels/${id}/remove`, {});
    expect(done.r.status).toBe(303);
    expect((await alicePage.get("/settings/channels")).html).toContain("Removed channel doomed.");
    expect(findChannel(s.db, acme, id)).toBeNull();
    expect((await alicePage.get(`/settings/channels/${id}/edit`)).r.status).toBe(404);
  });
});

describe("API tokens", () => {
  test("a new token is shown once, works against the API with the scopes given, and stops working when revoked", async () => {
    const page = await alicePage.get("/settings/tokens");
    expect(page.html).toContain('<input type="checkbox" id="scope-admin" name="scopes" value="admin" checked/>');
    const { r, html } = await alicePage.post("/settings/tokens", { name: "ci-deploy", scopes: ["read", "write"], expires_in_days: "30" });
    expect(r.status).toBe(201);
    const token = /<code id="new-token" class="url" aria-labelledby="new-token-label">(ctp_[A-Za-z0-9_-]+)<\/code>/.exec(html)?.[1];
    expect(token).toBeDefined();
    expect(html).toContain('<button type="button" class="button-quiet button-small copy" data-copy="#new-token"');
    expect(html).toContain("Copy it now: it is shown this once.");

    const me = await s.api("/api/v1/me", { token });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { scopes: string[] }).scopes).toEqual(["read", "write"]);
    expect((await s.api("/api/v1/tenants/current", { method: "PATCH", token, json: { name: "x" } })).status).toBe(403);

    // Listed, never again with its secret.
    const list = await alicePage.get("/settings/tokens");
    expect(list.html).not.toContain(token!);
    expect(list.html).toContain(`<code class="muted">${token!.slice(0, 8)}…</code>`);
    const id = listApiTokens(s.db, acme, alice.id).find((t) => t.name === "ci-deploy")!.id;
    expect(list.html).toContain(`data-confirm="Revoke the token ci-deploy? Whatever uses it is refused from then on."`);

    const revoked = await alicePage.post(`/settings/tokens/${id}/revoke`, {});
    expect(revoked.r.status).toBe(303);
    expect((await alicePage.get("/settings/tokens")).html).toContain("Revoked the token ci-deploy: it no longer works.");
    expect((await s.api("/api/v1/me", { token })).status).toBe(401);
  });

  test("errors stand under their field: a name, at least one scope, an expiry in range", async () => {
    const before = listApiTokens(s.db, acme, alice.id).length;
    await alicePage.get("/settings/tokens");
    let r = await alicePage.post("/settings/tokens", { name: " ", scopes: "read" });
    expect(r.r.status).toBe(422);
    expect(errorUnder(r.html, "name")).toBe("Must be 1 to 100 characters.");
    r = await alicePage.post("/settings/tokens", { name: "no-scope", expires_in_days: "" });
    expect(errorUnder(r.html, "scopes")).toBe("Needs at least one scope.");
    // What was typed is kept, the boxes as they were ticked.
    expect(r.html).toContain('value="no-scope"');
    expect(r.html).toContain('<input type="checkbox" id="scope-read" name="scopes" value="read"/>');
    r = await alicePage.post("/settings/tokens", { name: "forever", scopes: "read", expires_in_days: "9999" });
    expect(errorUnder(r.html, "expires_in_days")).toBe("Must be between 1 and 3650.");
    r = await alicePage.post("/settings/tokens", { name: "soon", scopes: "read", expires_in_days: "1.5" });
    expect(errorUnder(r.html, "expires_in_days")).toBe("Must be between 1 and 3650.");
    expect(listApiTokens(s.db, acme, alice.id).length).toBe(before);
  });

  test("a token past its expiry is listed as expired", async () => {
    const { token } = createApiToken(s.db, acme, alice.id, { name: "short-lived", scopes: ["read"], expires_in_days: 1 }, null, Date.now() - 2 * DAY);
    const list = await alicePage.get("/settings/tokens");
    expect(list.html).toMatch(/<strong class="item-name">short-lived<\/strong><code class="muted">[^<]+<\/code><span class="state state-spent">expired<\/span>/);
    expect((await s.api("/api/v1/me", { token })).status).toBe(401);
  });
});

describe("enrollment tokens", () => {
  const enroll = (token: string, machine: string) =>
    s.api("/api/v1/agent/enroll", { method: "POST", json: { token, hostname: `${machine}.example.com`, platform: "linux", arch: "x64", scheduler: "crontab", machine_id: machine } });

  test("a new one is shown once with its enroll command, enrolls a host, and is then used up; revoked, it enrolls nobody", async () => {
    await alicePage.get("/settings/enrollment");
    const { r, html } = await alicePage.post("/settings/enrollment", { name: "web servers", labels: "role=web\nenv=prod", max_uses: "1", expires_in_days: "7" });
    expect(r.status).toBe(201);
    const token = /<code id="new-token" class="url" aria-labelledby="new-token-label">(cte_[A-Za-z0-9_-]+)<\/code>/.exec(html)?.[1];
    expect(token).toBeDefined();
    expect(html).toContain(`crontopus agent enroll --server ${s.url} --token ${token}`);
    expect(html).toMatch(/<span class="state state-usable" data-enrollment-state="usable">usable<\/span>/);

    const enrolled = await enroll(token!, "web-1");
    expect(enrolled.status).toBe(201);
    expect(((await enrolled.json()) as { agent: { labels: Record<string, string> } }).agent.labels).toEqual({ role: "web", env: "prod" });
    const list = await alicePage.get("/settings/enrollment");
    expect(list.html).not.toContain(token!);
    expect(list.html).toContain("<dd>1 of 1</dd>");
    expect(list.html).toContain('data-enrollment-state="used up">used up</span>');
    expect((await enroll(token!, "web-2")).status).toBe(401);

    // An unlimited one: enrolls, then revoked enrolls nobody.
    const second = await alicePage.post("/settings/enrollment", { name: "batch hosts" });
    const other = /(cte_[A-Za-z0-9_-]+)<\/code>/.exec(second.html)![1]!;
    expect((await enroll(other, "batch-1")).status).toBe(201);
    expect((await alicePage.get("/settings/enrollment")).html).toContain("<dd>1 (no limit)</dd>");
    const id = listEnrollmentTokens(s.db, acme, Date.now()).find((t) => t.name === "batch hosts")!.id;
    expect((await alicePage.post(`/settings/enrollment/${id}/revoke`, {})).r.status).toBe(303);
    expect((await alicePage.get("/settings/enrollment")).html).toContain("Revoked the enrollment token batch hosts: no host can enroll with it any more.");
    expect((await enroll(other, "batch-2")).status).toBe(401);
  });

  test("an expired one says so", async () => {
    createEnrollmentToken(s.db, acme, alice.id, { name: "old token", expires_in_days: 1 }, Date.now() - 2 * DAY);
    const { html } = await alicePage.get("/settings/enrollment");
    expect(html).toMatch(/<strong class="item-name">old token<\/strong><code class="muted">[^<]+<\/code><span class="state state-spent" data-enrollment-state="expired">expired<\/span>/);
  });

  test("errors stand under their field", async () => {
    await alicePage.get("/settings/enrollment");
    const before = listEnrollmentTokens(s.db, acme, Date.now()).length;
    let r = await alicePage.post("/settings/enrollment", { name: "", labels: "" });
    expect(r.r.status).toBe(422);
    expect(errorUnder(r.html, "name")).toBe("Must be 1 to 100 characters.");
    r = await alicePage.post("/settings/enrollment", { name: "x", labels: "just-a-word" });
    expect(errorUnder(r.html, "labels")).toBe('Line 1 ("just-a-word"): write each label as key=value.');
    r = await alicePage.post("/settings/enrollment", { name: "x", labels: "bad key=1" });
    expect(errorUnder(r.html, "labels")).toStartWith("bad key: is not a valid label key");
    r = await alicePage.post("/settings/enrollment", { name: "x", max_uses: "0" });
    expect(errorUnder(r.html, "max_uses")).toBe("Must be a whole number of at least 1.");
    r = await alicePage.post("/settings/enrollment", { name: "x", expires_in_days: "0" });
    expect(errorUnder(r.html, "expires_in_days")).toBe("Must be between 1 and 3650.");
    expect(r.html).toContain('<input id="expires_in_days" name="expires_in_days" type="number" value="0" aria-invalid="true"');
    expect(listEnrollmentTokens(s.db, acme, Date.now()).length).toBe(before);
  });
});

describe("who sees what", () => {
  test("bob (viewer) reads the settings and the channels, and sees no form or button that would fail for him", async () => {
    createChannel(s.db, { secrets: s.ctx.secrets, allowPrivateTargets: true }, acme, { name: "bob-sees-me", type: "webhook", config: { url: `${receiver.url}/bob` } }, Date.now());
    const settings = await bobPage.get("/settings");
    expect(settings.r.status).toBe(200);
    expect(settings.html).toContain(getTenantSettings(s.db, acme).ping_key);
    expect(settings.html).not.toContain('action="/settings"');
    expect(settings.html).not.toContain("rotate-key");
    expect(settings.html).toContain("Only the tenant's owners and admins change these.");

    const channels = await bobPage.get("/settings/channels");
    expect(channels.html).toContain('<strong class="item-name">bob-sees-me</strong>');
    for (const button of ["Add a channel", "hx-post", '/test"', '/edit"', '/remove"', "<form method=\"post\" action=\"/settings/channels"]) expect(channels.html).not.toContain(button);

    // His own API tokens: read is the only scope offered.
    const tokens = await bobPage.get("/settings/tokens");
    expect(tokens.html).toContain('id="scope-read"');
    expect(tokens.html).not.toContain('id="scope-write"');
    const made = await bobPage.post("/settings/tokens", { name: "bob-read", scopes: "read" });
    expect(made.r.status).toBe(201);

    const enrollment = await bobPage.get("/settings/enrollment");
    expect(enrollment.r.status).toBe(403);
    expect(enrollment.html).toContain("Only the tenant's owners and admins see and manage enrollment tokens.");
    expect(enrollment.html).not.toContain("<form method=\"post\" action=\"/settings/enrollment\"");
  });

  test("bob is refused (403 page) when he posts anyway, and nothing changes", async () => {
    const id = createChannel(s.db, { secrets: s.ctx.secrets, allowPrivateTargets: true }, acme, { name: "not-bobs", type: "webhook", config: { url: `${receiver.url}/nb` } }, Date.now()).id;
    const before = { settings: getTenantSettings(s.db, acme), channels: s.db.query("SELECT count(*) AS n FROM channels").get() };
    await bobPage.get("/settings");
    const attempts: [string, Record<string, string | string[]>][] = [
      ["/settings", { name: "Bob's", retention_days: "1", retention_runs: "10" }],
      ["/settings/rotate-key", { key: "ping_key" }],
      ["/settings/channels/new", { type: "webhook", name: "bobs", url: `${receiver.url}/x` }],
      [`/settings/channels/${id}/edit`, { type: "webhook", name: "renamed", url: `${receiver.url}/x` }],
      [`/settings/channels/${id}/test`, {}],
      [`/settings/channels/${id}/remove`, {}],
      ["/settings/enrollment", { name: "bobs" }],
      ["/settings/tokens", { name: "bob-admin", scopes: ["read", "admin"] }],
    ];
    for (const [path, form] of attempts) {
      const { r, html } = await bobPage.post(path, form);
      expect(`${path} ${r.status}`).toBe(`${path} 403`);
      expect(html).toContain("Not allowed");
    }
    for (const path of ["/settings/rotate-key?key=ping_key", "/settings/channels/new", `/settings/channels/${id}/edit`, `/settings/channels/${id}/remove`]) {
      expect(`${path} ${(await bobPage.get(path)).r.status}`).toBe(`${path} 403`);
    }
    expect(hitsTo("/nb")).toEqual([]);
    expect({ settings: getTenantSettings(s.db, acme), channels: s.db.query("SELECT count(*) AS n FROM channels").get() }).toEqual(before);
  });

  test("mia (member) runs the channels, but sees the tenant's settings without a form and is refused changing them", async () => {
    const r = await addChannel(miaPage, { type: "webhook", name: "mia-hook", url: `${receiver.url}/mia` });
    expect(r.r.status).toBe(303);
    const channels = await miaPage.get("/settings/channels");
    expect(channels.html).toContain("Add a channel");
    expect(channels.html).toContain(`/settings/channels/${channelIdOf("mia-hook")}/test`);
    const settings = await miaPage.get("/settings");
    expect(settings.html).not.toContain('action="/settings"');
    expect(settings.html).not.toContain("rotate-key");
    expect((await miaPage.post("/settings", { name: "Mia's", retention_days: "1", retention_runs: "10" })).r.status).toBe(403);
    expect((await miaPage.get("/settings/enrollment")).r.status).toBe(403);
  });
});

describe("another tenant", () => {
  test("gina's channel, API token and enrollment token are 404 pages to alice, and stay as they were", async () => {
    const ginaChannel = createChannel(s.db, { secrets: s.ctx.secrets, allowPrivateTargets: true }, globex, { name: "payroll-hook", type: "webhook", config: { url: `${receiver.url}/gina` } }, Date.now());
    const ginaToken = listApiTokens(s.db, globex, gina.id)[0]!;
    const ginaEnrollment = createEnrollmentToken(s.db, globex, gina.id, { name: "globex hosts" }, Date.now()).enrollment_token;
    expect((await alicePage.get("/settings/channels")).html).not.toContain("payroll-hook");
    const c = `/settings/channels/${ginaChannel.id}`;
    for (const path of [`${c}/edit`, `${c}/remove`]) expect(`${path} ${(await alicePage.get(path)).r.status}`).toBe(`${path} 404`);
    for (const [path, form] of [
      [`${c}/edit`, { type: "webhook", name: "mine-now", url: `${receiver.url}/alice` }],
      [`${c}/test`, {}],
      [`${c}/remove`, {}],
      [`/settings/tokens/${ginaToken.id}/revoke`, {}],
      [`/settings/enrollment/${ginaEnrollment.id}/revoke`, {}],
    ] as [string, Record<string, string>][]) {
      const { r, html } = await alicePage.post(path, form);
      expect(`${path} ${r.status}`).toBe(`${path} 404`);
      expect(html).toContain("Not found");
    }
    expect(hitsTo("/gina")).toEqual([]);
    expect(findChannel(s.db, globex, ginaChannel.id)?.name).toBe("payroll-hook");
    expect((await s.api("/api/v1/me", { token: gina.token })).status).toBe(200);
    expect(listEnrollmentTokens(s.db, globex, Date.now()).map((t) => t.name)).toEqual(["globex hosts"]);
  });
});

describe("CSRF", () => {
  test("without the token, or from another origin, every form is refused and nothing changes", async () => {
    const before = getTenantSettings(s.db, acme);
    const tokens = listApiTokens(s.db, acme, alice.id).length;
    const channels = s.db.query("SELECT count(*) AS n FROM channels").get();
    await alicePage.get("/settings");
    const forms: [string, Record<string, string>][] = [
      ["/settings", { name: "Hijacked", retention_days: "1", retention_runs: "10" }],
      ["/settings/rotate-key", { key: "ping_key" }],
      ["/settings/channels/new", { type: "webhook", name: "evil", url: "https://evil.example/" }],
      ["/settings/tokens", { name: "evil", scopes: "read" }],
      ["/settings/enrollment", { name: "evil" }],
    ];
    for (const [path, form] of forms) {
      const without = await alicePage.post(path, form, { csrf: null });
      expect(`${path} ${without.r.status}`).toBe(`${path} 403`);
      expect(without.html).toContain("Form expired");
      const elsewhere = await alicePage.post(path, form, { headers: { origin: "https://evil.example" } });
      expect(`${path} ${elsewhere.r.status}`).toBe(`${path} 403`);
    }
    expect(getTenantSettings(s.db, acme)).toEqual(before);
    expect(listApiTokens(s.db, acme, alice.id).length).toBe(tokens);
    expect(s.db.query("SELECT count(*) AS n FROM channels").get()).toEqual(channels);
  });
});

describe("escaping", () => {
  const xss = `<img src=x onerror=alert(1)>`;

  test("hostile names, labels, headers and a receiver's answer show as text", async () => {
    await alicePage.get("/settings/tokens");
    const made = await alicePage.post("/settings/tokens", { name: `tok ${xss}`, scopes: "read" });
    expect(made.r.status).toBe(201);
    await alicePage.post("/settings/enrollment", { name: `hosts ${xss}`, labels: `note=${xss}` });
    await addChannel(alicePage, { type: "webhook", name: "hostile", url: `${receiver.url}/h`, headers: `X-Note: ${xss}` });
    const hostile = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(`<script>alert(1)</script>`, { status: 502 }) });
    try {
      await addChannel(alicePage, { type: "webhook", name: "hostile-answer", url: `http://127.0.0.1:${hostile.port}/` });
      const answer = await alicePage.post(`/settings/channels/${channelIdOf("hostile-answer")}/test`, {}, { headers: hx });
      expect(answer.html).toContain("Not delivered: HTTP 502: &lt;script&gt;alert(1)&lt;/script&gt;.");
      expect(answer.html).not.toContain("<script>");
    } finally {
      hostile.stop(true);
    }
    const pages = [
      (await alicePage.get("/settings/tokens")).html,
      (await alicePage.get("/settings/enrollment")).html,
      (await alicePage.get(`/settings/channels/${channelIdOf("hostile")}/edit`)).html,
    ];
    for (const html of pages) {
      expect(markup(html)).not.toContain("<img src=x");
      expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    }
    // The tenant's own name, in the form and in the top bar.
    await alicePage.get("/settings");
    await alicePage.post("/settings", { name: `Acme ${xss}`, retention_days: "30", retention_runs: "500" });
    const settings = (await alicePage.get("/settings")).html;
    expect(markup(settings)).not.toContain("<img src=x");
    expect(settings).toContain('<span class="tenant-name">Acme &lt;img src=x onerror=alert(1)&gt;</span>');
    await alicePage.post("/settings", { name: "Acme Inc.", retention_days: "30", retention_runs: "500" });
  });
});

describe("page weight", () => {
  test("each settings page's first load (HTML, CSS and script) stays under 150 KB uncompressed", async () => {
    for (const path of ["/settings", "/settings/channels", "/settings/channels/new?type=pagerduty", "/settings/tokens", "/settings/enrollment"]) {
      const { html } = await alicePage.get(path);
      let bytes = Buffer.byteLength(html);
      for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) bytes += (await (await fetch(s.url + m[1], { headers: { "accept-encoding": "identity" } })).arrayBuffer()).byteLength;
      expect(`${path} ${bytes < 150 * 1024}`).toBe(`${path} true`);
    }
  });
});
