// The runs pages, the timeline and the dashboard in a real browser (Debian's Chromium), offline:
// every request to another host is aborted, and none may be made. Alice's acme has a day of
// runs: nightly backups of half an hour, an hourly report, deploys, an invoice run that fails
// (its output carries an XSS payload), a certificate renewal that timed out and one still
// running; an agent has gone quiet. Screenshots of /, /runs, a run and /timeline at 1280 and
// 360 px go to test/console/screenshots/, with console-core's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { createEnrollmentToken, enroll } from "../../src/agents/agents";
import { findTenant } from "../../src/tenants/tenants";
import { PASSWORD, persona, startTestServer, type Persona, type TestServer } from "../helpers";
import { until } from "../receiver";
import { axeViolations, launch, open, screenshots, seriousOf, type Watched, signIn, expectClean } from "./browser";

const H = 3_600_000;
const MIN = 60_000;
const XSS = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`;

let browser: Browser;
let s: TestServer;
let alice: Persona;
const ids = { invoice: 0 };

async function checkin(body: Record<string, unknown>) {
  const r = await s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: body });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  browser = await launch();
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  const jobs: [string, string, Record<string, string>][] = [
    ["ops", "db-backup", { env: "prod" }],
    ["ops", "report", { env: "prod" }],
    ["ops", "invoice-run", { env: "prod", team: "billing" }],
    ["ops", "cert-renew", { env: "prod" }],
    ["web", "deploy", { team: "web" }],
    ["web", "sitemap", { team: "web" }],
  ];
  for (const [ns, name, labels] of jobs) {
    const r = await s.api(`/api/v1/jobs/${ns}/${name}`, { method: "PUT", token: alice.token, json: { schedule: "@hourly", labels, timeout: "2h" } });
    expect(r.status).toBe(201);
  }
  const now = Date.now();
  // A day of runs, oldest first: backups every 6 hours (the night's is the slow one), an hourly report, deploys.
  for (let h = 23; h >= 1; h--) {
    const at = now - h * H;
    if (h % 6 === 5) await checkin({ job: "ops/db-backup", kind: "success", started_at: at, duration_ms: (h === 17 ? 95 : 25) * MIN, host: "db-1", output: "dumped 42 tables" });
    await checkin({ job: "ops/report", kind: "success", started_at: at + 5 * MIN, duration_ms: (2 + (h % 4)) * MIN, host: "app-1" });
    if (h % 8 === 3) await checkin({ job: "web/deploy", kind: "success", started_at: at + 20 * MIN, duration_ms: 12 * MIN, host: "web-1" });
    if (h % 12 === 7) await checkin({ job: "web/sitemap", kind: "success", started_at: at + 40 * MIN, duration_ms: 3 * MIN, host: "web-2" });
  }
  await checkin({ job: "ops/cert-renew", kind: "fail", timed_out: true, exit_code: 124, started_at: now - 10 * H, duration_ms: 2 * H, host: "edge-1", output: "waiting for the ACME server…" });
  await checkin({ job: "ops/invoice-run", kind: "fail", exit_code: 3, started_at: now - 40 * MIN, duration_ms: 7 * MIN, host: "billing-1", output: `charging 1,204 customers\n${XSS}\nerror: ${"the card processor said no ".repeat(12)}\nexit 3` });
  await fetch(((await (await s.api("/api/v1/jobs/ops/db-backup", { token: alice.token })).json()) as { ping_url: string }).ping_url + "/start");
  const runs = ((await (await s.api("/api/v1/runs?job=ops/invoice-run", { token: alice.token })).json()) as { runs: { id: number }[] }).runs;
  ids.invoice = runs[0]!.id;
  // An agent that stopped an hour ago, with a heartbeat every minute: offline at the engine's next tick.
  const { token } = createEnrollmentToken(s.db, findTenant(s.db, "acme")!.id, null, { name: "hosts" }, now - H);
  enroll(s.db, { token, hostname: "batch-3.acme.internal", name: "batch-3", platform: "linux", arch: "x64", scheduler: "cron", machine_id: "m-batch-3" }, 60, now - H);
  await until(async () => ((await (await s.api("/api/v1/agents", { token: alice.token })).json()) as { agents: { status: string }[] }).agents[0]?.status === "offline");
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

async function signedIn(opts: Parameters<typeof open>[2] = {}): Promise<Watched> {
  return signIn(browser, s.url, alice.email, PASSWORD, opts);
}

const noSerious = async (page: Page) => expect(seriousOf(await axeViolations(page))).toEqual([]);

describe("a run", () => {
  test("its output with an XSS payload shows as text, and runs nothing", async () => {
    const w = await signedIn();
    await w.page.goto(`${s.url}/runs/${ids.invoice}`);
    expect(await w.page.getByRole("heading", { level: 1 }).textContent()).toBe(`Run #${ids.invoice}`);
    const output = w.page.locator("pre.output");
    expect(await output.textContent()).toContain(XSS);
    expect(await output.locator("img, script").count()).toBe(0);
    expect(await w.page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await w.page.locator("[data-run-status]").first().textContent()).toBe("failed");
    // Times are shown in the browser's zone, the UTC text kept as the title.
    const started = w.page.locator("time[data-local]").first();
    expect(await started.getAttribute("title")).toMatch(/ UTC$/);
    expect(await started.textContent()).not.toMatch(/UTC$/);
    // Long lines wrap: the viewer is no wider than its box.
    expect(await output.evaluate((e) => e.scrollWidth <= e.clientWidth)).toBe(true);
    await noSerious(w.page);
    await screenshots(w.page, "run");
    // The download link serves the raw output as a file.
    const [download] = await Promise.all([w.page.waitForEvent("download"), w.page.getByRole("link", { name: "Download" }).click()]);
    expect(download.suggestedFilename()).toBe(`ops-invoice-run-run-${ids.invoice}.txt`);
    expectClean(w);
    await w.context.close();
  });
});

describe("the runs list", () => {
  test("a changed filter applies at once and stays in the URL", async () => {
    const w = await signedIn();
    await w.page.goto(`${s.url}/runs`);
    await noSerious(w.page);
    await screenshots(w.page, "runs");
    await w.page.getByLabel("Status").selectOption("failed");
    await w.page.waitForURL(/\/runs\?.*status=failed/);
    const statuses = await w.page.locator("tbody [data-run-status]").allTextContents();
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(["failed"]));
    expect(await w.page.getByLabel("Status").inputValue()).toBe("failed");
    await w.page.getByRole("link", { name: `failed #${ids.invoice}` }).click();
    await w.page.waitForURL(`${s.url}/runs/${ids.invoice}`);
    expectClean(w);
    await w.context.close();
  });
});

describe("the timeline", () => {
  test("shows a bar per run, a row per job, and a bar opens its run", async () => {
    const w = await signedIn();
    await w.page.goto(`${s.url}/timeline`);
    const api = ((await (await s.api("/api/v1/runs?limit=500", { token: alice.token })).json()) as { runs: { id: number; job: string }[] }).runs;
    for (const job of ["ops/db-backup", "ops/report", "web/deploy", "ops/cert-renew"]) {
      const row = w.page.locator(".tl-row", { has: w.page.getByRole("link", { name: job, exact: true }) });
      const bars = await row.locator(".tl-track a").evaluateAll((els) => els.map((e) => Number(e.getAttribute("href")!.split("/").pop())));
      expect({ job, bars: bars.sort() }).toEqual({ job, bars: api.filter((r) => r.job === job).map((r) => r.id).sort() });
    }
    // Every bar is drawn inside its track, with a size one can see.
    const sizes = await w.page.locator(".tl-track a path").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
    expect(sizes.every((x) => x >= 2)).toBe(true);
    await noSerious(w.page);
    await screenshots(w.page, "timeline");
    const invoice = w.page.locator(".tl-row", { has: w.page.getByRole("link", { name: "ops/invoice-run", exact: true }) }).locator(".tl-track a").first();
    await invoice.click();
    await w.page.waitForURL(`${s.url}/runs/${ids.invoice}`);
    expect(await w.page.getByRole("heading", { level: 1 }).textContent()).toBe(`Run #${ids.invoice}`);
    expectClean(w);
    await w.context.close();
  });

  test("filters by namespace and label", async () => {
    const w = await signedIn();
    await w.page.goto(`${s.url}/timeline`);
    await w.page.getByLabel("Namespace").selectOption("web");
    await w.page.waitForURL(/namespace=web/);
    expect(await w.page.locator(".tl-job").allTextContents()).toEqual(["web/deploy", "web/sitemap"]);
    await w.page.goto(`${s.url}/timeline`);
    await w.page.getByLabel("Label").fill("team=billing");
    await w.page.getByRole("button", { name: "Show" }).click();
    await w.page.waitForURL(/label=team%3Dbilling/);
    expect(await w.page.locator(".tl-job").allTextContents()).toEqual(["ops/invoice-run"]);
    expectClean(w);
    await w.context.close();
  });
});

describe("the dashboard", () => {
  test("lists a failing job with its status, the recent runs and the agent offline", async () => {
    const w = await signedIn();
    const failing = w.page.locator("section", { has: w.page.locator("#failing") });
    const item = failing.locator("li", { has: w.page.getByRole("link", { name: "ops/invoice-run" }) });
    expect(await item.locator("[data-job-status]").getAttribute("data-job-status")).toBe("failed");
    expect(await item.locator("[data-job-status]").textContent()).toBe("failed");
    expect(await item.textContent()).toContain("ago");
    expect(await w.page.locator("section", { has: w.page.locator("#running") }).getByRole("link", { name: "ops/db-backup" }).count()).toBe(1);
    expect(await w.page.locator("section", { has: w.page.locator("#agents-offline") }).getByRole("link", { name: "batch-3" }).count()).toBe(1);
    await noSerious(w.page);
    await screenshots(w.page, "dashboard-busy");
    await item.getByRole("link", { name: "ops/invoice-run" }).click();
    await w.page.waitForURL(`${s.url}/jobs/ops/invoice-run`);
    expectClean(w);
    await w.context.close();
  });

  test("the pages pass the same check in the dark theme, and fit a 360 px phone", async () => {
    for (const opts of [{ colorScheme: "dark" as const }, { width: "phone" as const }]) {
      const w = await signedIn(opts);
      for (const path of ["/", "/runs", `/runs/${ids.invoice}`, "/timeline"]) {
        await w.page.goto(s.url + path);
        const [scroll, inner] = await w.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        expect(`${path} ${scroll <= inner}`).toBe(`${path} true`);
        const serious = seriousOf(await axeViolations(w.page));
        expect(`${path} ${JSON.stringify(opts)} ${serious.join("; ")}`).toBe(`${path} ${JSON.stringify(opts)} `);
      }
      expectClean(w);
      await w.context.close();
    }
  });
});
