// The agents pages follow their hosts without a reload, in a real browser (Debian's Chromium),
// offline: alice keeps /agents open while a new host enrolls, and an agent's page open while the
// host reports its pass, through the real agent protocol.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { PASSWORD, persona, startTestServer, type Persona, type TestServer } from "../helpers";
import { expectClean, launch, open, signIn, type Watched } from "./browser";
import { enrollHost, reportPass, type Host } from "./hosts";

let browser: Browser;
let s: TestServer;
let alice: Persona;
let web1: Host;

async function enrollmentToken(labels: Record<string, string>): Promise<string> {
  const r = await s.api("/api/v1/enrollment-tokens", { method: "POST", token: alice.token, json: { name: "hosts", labels } });
  expect(r.status).toBe(201);
  return ((await r.json()) as { token: string }).token;
}

beforeAll(async () => {
  browser = await launch();
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  const r = await s.api("/api/v1/jobs/ops/rotate", { method: "PUT", token: alice.token, json: { schedule: "@every 1h", command: "/usr/sbin/logrotate /etc/logrotate.conf", agent: { selector: { role: "web" } } } });
  expect(r.status).toBe(201);
  web1 = await enrollHost(s, await enrollmentToken({ role: "web" }), "web1.acme.internal");
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

async function signedIn(): Promise<Watched> {
  return signIn(browser, s.url, alice.email, PASSWORD, {});
}

const streaming = (page: Page) => page.waitForFunction(() => document.documentElement.dataset.liveState === "streaming", null, { timeout: 15_000 });
const mark = (page: Page) => page.evaluate(() => ((window as unknown as { unreloaded: boolean }).unreloaded = true));
const stillMarked = (page: Page) => page.evaluate(() => (window as unknown as { unreloaded?: boolean }).unreloaded === true);

describe("the agents pages follow their hosts without a reload", () => {
  test("the list shows a host that enrolls while it is open", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/agents`);
    await streaming(page);
    await mark(page);
    expect(await page.locator("#agents-table tbody tr").count()).toBe(1);
    await enrollHost(s, await enrollmentToken({ role: "db" }), "db1.acme.internal");
    await page.locator("#agents-table tbody tr", { hasText: "db1.acme.internal" }).waitFor({ timeout: 15_000 });
    expect(await page.locator("#agents-table tbody tr").count()).toBe(2);
    expect(await stillMarked(page)).toBe(true);
    expectClean(w);
    await w.context.close();
  });

  test("an agent's page shows the state its host reports", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/agents/${web1.id}`);
    await streaming(page);
    await mark(page);
    const state = page.locator('#agent-jobs [data-instance-state]').first();
    expect(await state.getAttribute("data-instance-state")).toBe("pending");
    await reportPass(s, web1, { "ops/rotate": { state: "drifted", message: "its line was edited by hand; restored" } });
    await page.locator('#agent-jobs [data-instance-state="drifted"]').waitFor({ timeout: 15_000 });
    expect(await page.locator("#agent-jobs").textContent()).toContain("its line was edited by hand; restored");
    expect(await stillMarked(page)).toBe(true);
    expectClean(w);
    await w.context.close();
  });
});
