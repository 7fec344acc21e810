// Live updates in a real browser (Debian's Chromium), offline. Alice keeps console pages open while
// her jobs are pinged with real HTTP requests, and watches them change without a reload: a job's
// page (its status, last check-in, the run in its log, its charts), the jobs list's status column
// and label counts, the dashboard, the runs list. With the stream made unreachable, or held back
// as a buffering proxy would, the pages poll instead, and take the stream again once it works.
// The delays from a ping's 200 to the page are printed, not asserted: `bun run bench -- live`
// measures them (scripts/bench/live.ts).
// The tests run in any order: each pings jobs no other test pings, and those that wait for a job to
// turn up make it fail first, so the page has a change to follow whatever ran before.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page, Route } from "playwright-core";
import { PASSWORD, persona, startTestServer, type Persona, type TestServer } from "../helpers";
import { axeViolations, launch, open, screenshots, seriousOf, type Watched, signIn, expectClean } from "./browser";

let browser: Browser;
let s: TestServer;
let alice: Persona;
const pings: Record<string, string> = {};

beforeAll(async () => {
  browser = await launch();
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  for (const [name, labels] of [
    ["backup", { env: "prod" }],
    ["report", { env: "prod" }],
    ["invoices", { env: "prod" }],
    ["cleanup", { env: "staging" }],
    ["sync", { env: "staging" }],
  ] as const) {
    const r = await s.api(`/api/v1/jobs/ops/${name}`, { method: "PUT", token: alice.token, json: { schedule: "@every 1h", labels } });
    pings[name] = ((await r.json()) as { ping_url: string }).ping_url;
    await fetch(pings[name]!, { method: "POST", body: `${name}: first run` });
  }
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

async function signedIn(opts: { colorScheme?: "light" | "dark" } = {}): Promise<Watched> {
  return signIn(browser, s.url, alice.email, PASSWORD, opts);
}

/** Waits until the page's live updates are in this state (public/live.ts writes it on <html>). */
const liveState = (page: Page, state: "streaming" | "polling", timeout = 15_000) =>
  page.waitForFunction((want) => document.documentElement.dataset.liveState === want, state, { timeout });

/** Marks the document, so that a test can tell it was never reloaded. */
const mark = (page: Page) => page.evaluate(() => ((window as unknown as { unreloaded: boolean }).unreloaded = true));
const stillMarked = (page: Page) => page.evaluate(() => (window as unknown as { unreloaded?: boolean }).unreloaded === true);

/** A ping, and when its 200 came (performance.now() of this process). */
async function ping(name: string, suffix = "", body?: string): Promise<number> {
  const r = await fetch(`${pings[name]}${suffix}`, { method: "POST", body });
  expect(r.status).toBe(200);
  return performance.now();
}

/** A job no other test pings (in etl, outside the jobs list's test), failed by its first check-in. */
async function failedJob(name: string): Promise<void> {
  const r = await s.api(`/api/v1/jobs/etl/${name}`, { method: "PUT", token: alice.token, json: { schedule: "@every 1h" } });
  expect(r.status).toBe(201);
  pings[name] = ((await r.json()) as { ping_url: string }).ping_url;
  await ping(name, "/fail");
}

const newestRunOf = async (name: string) =>
  ((await (await s.api(`/api/v1/runs?job=ops/${name}&limit=1`, { token: alice.token })).json()) as { runs: { id: number }[] }).runs[0]!.id;

describe("an open page follows the tenant's changes without a reload", () => {
  test("a job's page: its status, last check-in, the new run in the log, the output and the charts", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/jobs/ops/backup`);
    await liveState(page, "streaming");
    await mark(page);
    const own = page.locator("#job-live [data-job-status]");
    expect(await own.textContent()).toBe("up");
    const runsBefore = await page.locator("#job-history li.log-run").count();

    const answered = await ping("backup", "/7", "disk full on /var");
    await page.locator('#job-live [data-job-status="failed"]').waitFor({ timeout: 15_000 });
    const statusAfter = performance.now() - answered;
    const run = await newestRunOf("backup");
    const logged = page.locator("#job-history li.log-run").first();
    await page.locator(`#job-history li.log-run a[href="/runs/${run}"]`).waitFor({ timeout: 15_000 });
    const logAfter = performance.now() - answered;
    console.log(`job page: status ${statusAfter.toFixed(0)} ms, log ${logAfter.toFixed(0)} ms after the ping's 200`);

    expect(await logged.textContent()).toContain("exit 7");
    expect(await page.locator("#job-history li.log-run").count()).toBe(runsBefore + 1);
    // The status change sits above the run that caused it.
    expect(await page.locator("#job-history li.log-flip").first().textContent()).toContain("up → failed");
    expect(await page.locator("#job-history pre.output").textContent()).toBe("disk full on /var");
    expect(await page.locator("#job-live dd").nth(4).textContent()).toBe("2");
    await page.locator("#job-recent").getByText(/1 failed/).first().waitFor({ timeout: 15_000 });
    expect(await stillMarked(page)).toBe(true);

    await screenshots(page, "live-job");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    expectClean(w);
    await w.context.close();
  });

  test("the jobs list: the status column, and the label counts when a job comes", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/jobs?namespace=ops`);
    await liveState(page, "streaming");
    await mark(page);
    const row = page.locator("tr", { has: page.getByRole("link", { name: "ops/report" }) });
    expect(await row.locator("[data-job-status]").textContent()).toBe("up");
    // A ticked box stays ticked through the refreshes.
    await page.getByLabel("Select ops/cleanup").check();

    const answered = await ping("report", "/fail");
    await row.locator('[data-job-status="failed"]').waitFor({ timeout: 15_000 });
    console.log(`jobs list: status ${(performance.now() - answered).toFixed(0)} ms after the ping's 200`);
    const prod = page.getByRole("link", { name: /^env=prod \(\d+\)$/ });
    expect(await prod.textContent()).toBe("env=prod (3)");
    expect(await prod.getAttribute("class")).toContain("chip-failed");

    const r = await s.api("/api/v1/jobs/ops/payments", { method: "PUT", token: alice.token, json: { schedule: "@daily", labels: { env: "prod" } } });
    expect(r.status).toBe(201);
    await page.getByRole("link", { name: "env=prod (4)" }).waitFor({ timeout: 15_000 });
    expect(await page.getByLabel("Select ops/cleanup").isChecked()).toBe(true);
    expect(await stillMarked(page)).toBe(true);
    expectClean(w);
    await w.context.close();
  });

  test("the dashboard: the counts, the failing list and the recent runs", async () => {
    const w = await signedIn();
    const { page } = w;
    await liveState(page, "streaming");
    await mark(page);
    const failedTile = page.locator('a.tile[href="/jobs?status=failed"] .count');
    const failedBefore = Number(await failedTile.textContent());
    const failing = page.locator("section[aria-labelledby=failing]");
    expect(await failing.getByRole("link", { name: "ops/invoices" }).count()).toBe(0);

    const answered = await ping("invoices", "/fail", "no invoices today");
    await failing.getByRole("link", { name: "ops/invoices" }).waitFor({ timeout: 15_000 });
    console.log(`dashboard: failing list ${(performance.now() - answered).toFixed(0)} ms after the ping's 200`);
    expect(Number(await failedTile.textContent())).toBe(failedBefore + 1);
    const run = await newestRunOf("invoices");
    await page.locator(`section[aria-labelledby=recent-runs] a[href="/runs/${run}"]`).waitFor({ timeout: 15_000 });
    expect(await stillMarked(page)).toBe(true);

    await screenshots(page, "live-dashboard");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    expectClean(w);
    await w.context.close();
  });

  test("the runs list's first page: new runs appear, those its filter leaves out do not", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/runs?status=failed`);
    await liveState(page, "streaming");
    await mark(page);
    await ping("sync");
    const succeeded = await newestRunOf("sync");
    await ping("sync", "/fail");
    const failed = await newestRunOf("sync");
    await page.locator(`#runs-results a[href="/runs/${failed}"]`).waitFor({ timeout: 15_000 });
    expect(await page.locator(`#runs-results a[href="/runs/${succeeded}"]`).count()).toBe(0);

    await page.goto(`${s.url}/runs`);
    await liveState(page, "streaming");
    await ping("sync");
    await page.locator(`#runs-results a[href="/runs/${await newestRunOf("sync")}"]`).waitFor({ timeout: 15_000 });
    expectClean(w);
    await w.context.close();
  });
});

describe("without the stream", () => {
  test("the stream unreachable: the job page polls instead, and still follows the job", async () => {
    const w = await signedIn();
    const { page, context } = w;
    let tried = 0;
    await context.route(
      (url) => url.pathname === "/events",
      (route) => {
        tried++;
        return route.abort();
      },
    );
    await page.goto(`${s.url}/jobs/ops/cleanup`);
    await liveState(page, "polling");
    expect(tried).toBeGreaterThan(0);
    await mark(page);
    const answered = await ping("cleanup", "/2");
    await page.locator('#job-live [data-job-status="failed"]').waitFor({ timeout: 20_000 });
    console.log(`job page, polling: status ${(performance.now() - answered).toFixed(0)} ms after the ping's 200`);
    await page.locator("#job-history li.log-run", { hasText: "exit 2" }).waitFor({ timeout: 30_000 });
    expect(await stillMarked(page)).toBe(true);
    // The aborted stream is no request to another host and no script error.
    expectClean(w);
    await w.context.close();
  });

  test("the stream held back (a proxy that buffers it): the page polls, then takes the stream again once it works", async () => {
    const w = await signedIn();
    const { page, context } = w;
    let hold = true;
    const held: Route[] = [];
    let asked = 0;
    await context.route(
      (url) => url.pathname === "/events",
      (route) => {
        asked++;
        if (!hold) return route.continue();
        // Never answered: what a proxy that waits to fill its buffer looks like to the page.
        held.push(route);
      },
    );
    await failedJob("ledger");
    await page.goto(`${s.url}/jobs/etl/ledger`);
    await liveState(page, "polling");
    await mark(page);
    const own = page.locator("#job-live [data-job-status]");
    expect(await own.textContent()).toBe("failed");
    await ping("ledger");
    await page.locator('#job-live [data-job-status="up"]').waitFor({ timeout: 20_000 });

    // The proxy is fixed: the page's next try (30 s after it fell back) streams again.
    hold = false;
    for (const r of held.splice(0)) await r.abort().catch(() => {});
    await liveState(page, "streaming", 60_000);
    expect(asked).toBeGreaterThan(1);
    const answered = await ping("ledger", "/fail");
    await page.locator('#job-live [data-job-status="failed"]').waitFor({ timeout: 15_000 });
    console.log(`job page, stream back: status ${(performance.now() - answered).toFixed(0)} ms after the ping's 200`);
    expect(await own.textContent()).toBe("failed");
    expect(await stillMarked(page)).toBe(true);
    expectClean(w);
    await w.context.close();
  }, 120_000);
});

describe("dark theme", () => {
  test("a job page after a live refresh passes the WCAG check in the dark theme too", async () => {
    const w = await signedIn({ colorScheme: "dark" });
    const { page } = w;
    await failedJob("statements");
    await page.goto(`${s.url}/jobs/etl/statements`);
    await liveState(page, "streaming");
    expect(await page.locator("#job-live [data-job-status]").textContent()).toBe("failed");
    await ping("statements");
    await page.locator('#job-live [data-job-status="up"]').waitFor({ timeout: 15_000 });
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    expectClean(w);
    await w.context.close();
  });
});
