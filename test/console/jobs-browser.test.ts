// The jobs pages in a real browser (Debian's Chromium), offline: every request to another host is
// aborted, and none may be made. Alice creates a job in the form (a wrong schedule first, shown next
// to its field and in the live preview), pings it with curl and watches the open page turn up
// without a reload, makes it fail and finds the run in the log, pauses and resumes jobs from the
// list; markup in a label, a run's output and a job name shows as text. The pages pass axe's WCAG 2
// A/AA check; screenshots of the list, a job, and the form at 1280 and 360 px go to the folder the
// console's browser tests keep (test/console/screenshots/).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { getJob } from "../../src/jobs/jobs";
import { findTenant, updateTenantSettings } from "../../src/tenants/tenants";
import { PASSWORD, persona, startTestServer, TestClock, type Persona, type TestServer } from "../helpers";
import { axeViolations, launch, open, screenshots, seriousOf, type Watched, signIn, expectClean } from "./browser";

let browser: Browser;
let s: TestServer;
let alice: Persona;
let acme = "";

beforeAll(async () => {
  browser = await launch();
  // The server's clock stands still: a job's deadline (every 5 minutes) never passes between a
  // test's ping and its next look, whatever the wall clock does meanwhile.
  s = await startTestServer({}, { clock: new TestClock() });
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "bob", "acme", "viewer");
  acme = findTenant(s.db, "acme")!.id;
  updateTenantSettings(s.db, acme, { name: "Acme Inc." });
  // A tenant with some history: a backup with runs of varied length, a failing invoice run, a paused
  // log rotation; sync-crm and report-weekly are the ones the list test pauses and resumes.
  const jobs: [string, string, Record<string, string>][] = [
    ["db-backup", "0 2 * * *", { env: "prod", team: "db" }],
    ["invoice-run", "*/15 * * * *", { env: "prod" }],
    ["log-rotate", "@hourly", { env: "staging" }],
    ["cert-renew", "0 3 * * 1", { env: "prod", team: "sec" }],
    ["sync-crm", "*/10 * * * *", { env: "staging" }],
    ["report-weekly", "0 6 * * 1", { team: "finance" }],
  ];
  for (const [name, schedule, labels] of jobs) {
    const r = await s.api(`/api/v1/jobs/ops/${name}`, { method: "PUT", token: alice.token, json: { schedule, labels } });
    const { ping_url } = (await r.json()) as { ping_url: string };
    for (let i = 0; i < (name === "db-backup" ? 12 : 2); i++) {
      await fetch(`${ping_url}/start`);
      await Bun.sleep(5 + ((i * 37) % 60));
      await fetch(name === "invoice-run" && i === 1 ? `${ping_url}/fail` : ping_url, { method: "POST", body: `run ${i}: done` });
    }
  }
  await s.api("/api/v1/jobs/ops/log-rotate/pause", { method: "POST", token: alice.token });
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

async function signedIn(opts: { width?: "desktop" | "phone"; email?: string } = {}): Promise<Watched> {
  return signIn(browser, s.url, opts.email ?? alice.email, PASSWORD, { width: opts.width });
}

const ownStatus = (page: Page) => page.locator("[data-job-status]").first();

describe("a job from the form to its runs", () => {
  test("create it (a wrong schedule first), ping it with curl and watch the page turn up, make it fail and find the run", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/jobs`);
    await page.getByRole("link", { name: "New job" }).click();
    await page.waitForURL(`${s.url}/jobs/new`);
    await page.getByLabel("Namespace").fill("etl");
    await page.getByLabel("Name", { exact: true }).fill("nightly-report");
    // The preview follows the schedule as it is typed (htmx asks /jobs/preview).
    await page.getByLabel("Schedule").fill("0 25 * * *");
    await page.locator(".preview-error").waitFor();
    expect(await page.locator(".preview-error").textContent()).toBe('Schedule: hour "25": 25 is out of range (0-23)');
    await page.getByRole("button", { name: "Create job" }).click();
    await page.locator("#schedule-error").waitFor();
    expect(await page.locator("#schedule-error").textContent()).toBe('Hour "25": 25 is out of range (0-23).');
    expect(await page.getByLabel("Schedule").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("nightly-report");
    await screenshots(page, "job-form-error");
    expect(seriousOf(await axeViolations(page))).toEqual([]);

    await page.getByLabel("Schedule").fill("*/5 * * * *");
    await page.getByLabel("Time zone").fill("Europe/Berlin");
    await page.locator(".preview-description", { hasText: "Every 5 minutes (Europe/Berlin)" }).waitFor();
    expect(await page.locator(".schedule-preview li").count()).toBe(5);
    await page.getByLabel("Labels").fill("env=prod\nteam=data");
    await screenshots(page, "job-form");
    await page.getByRole("button", { name: "Create job" }).click();
    await page.waitForURL(`${s.url}/jobs/etl/nightly-report`);
    expect(await page.getByRole("status").first().textContent()).toBe("Created etl/nightly-report.");
    expect(await ownStatus(page).textContent()).toBe("new");

    // curl, as a crontab line would: the open page turns up by itself (its status poll).
    const url = await page.locator("#ping-url").textContent();
    const curl = Bun.spawn(["curl", "-fsS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", url!], { stdout: "pipe" });
    expect(await new Response(curl.stdout).text()).toBe("200");
    await page.locator('#job-live [data-job-status="up"]').waitFor({ timeout: 15_000 });
    expect(await ownStatus(page).getAttribute("data-job-status")).toBe("up");

    // A failure with output: after a reload the run is in the log, its output on the page.
    expect((await fetch(`${url}/1`, { method: "POST", body: "report failed: no data for 2026-11-23" })).status).toBe(200);
    await page.reload();
    expect(await ownStatus(page).textContent()).toBe("failed");
    const newest = page.locator(".log li").first();
    expect(await newest.locator(".flip-change").textContent()).toBe("up → failed");
    const run = page.locator(".log li.log-run").first();
    expect(await run.locator(".run-word").textContent()).toBe("failed");
    expect(await run.locator(".log-detail").textContent()).toContain("exit 1");
    expect(await page.locator("pre.output").textContent()).toBe("report failed: no data for 2026-11-23");
    expectClean(w);
    await w.context.close();
  });
});

describe("the list", () => {
  test("pause and resume from the list: tick, Pause, and the row says paused; then Resume", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/jobs?namespace=ops`);
    const row = page.locator("tr", { has: page.getByRole("link", { name: "ops/sync-crm" }) });
    expect(await row.locator("[data-job-status]").textContent()).toBe("up");
    await page.getByLabel("Select ops/sync-crm").check();
    await page.getByLabel("Select ops/report-weekly").check();
    await page.getByRole("button", { name: "Pause", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Paused 2 jobs." }).waitFor();
    expect(await row.locator("[data-job-status]").textContent()).toBe("paused");
    expect(getJob(s.db, acme, "ops", "report-weekly").paused).toBe(true);
    // The results were swapped in place: the page is the same one, with its filters.
    expect(page.url()).toBe(`${s.url}/jobs?namespace=ops`);

    await page.getByLabel("Select all jobs on this page").check();
    expect(await page.locator('input[name="job"]:checked').count()).toBe(await page.locator('input[name="job"]').count());
    await page.getByLabel("Select all jobs on this page").uncheck();
    await page.getByLabel("Select ops/sync-crm").check();
    await page.getByLabel("Select ops/report-weekly").check();
    await page.getByRole("button", { name: "Resume", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Resumed 2 jobs." }).waitFor();
    expect(await row.locator("[data-job-status]").textContent()).toBe("new");
    expect(getJob(s.db, acme, "ops", "sync-crm").paused).toBe(false);
    // Changed elsewhere (the API): the status column follows within its poll, without a reload.
    await s.api("/api/v1/jobs/ops/sync-crm/pause", { method: "POST", token: alice.token });
    await row.locator('[data-job-status="paused"]').waitFor({ timeout: 15_000 });
    await s.api("/api/v1/jobs/ops/sync-crm/resume", { method: "POST", token: alice.token });
    expectClean(w);
    await w.context.close();
  });

  test("filters and orders kept in the URL, label chips by the worst status; screenshots and the WCAG check", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/jobs`);
    await page.getByLabel("Status", { exact: true }).selectOption("failed");
    await page.waitForURL(`${s.url}/jobs?status=failed`);
    expect(await page.locator("td.job-name a").allTextContents()).toContain("ops/invoice-run");
    expect(new Set(await page.locator("td [data-job-status]").allTextContents())).toEqual(new Set(["failed"]));
    await page.goto(`${s.url}/jobs`);
    const prod = page.getByRole("link", { name: /^env=prod \(\d+\)$/ });
    expect(await prod.getAttribute("class")).toBe("chip chip-failed");
    await prod.click();
    await page.waitForURL(`${s.url}/jobs?label=env%3Dprod`);
    expect(await prod.getAttribute("class")).toBe("chip chip-failed chip-active");
    expect(await page.locator("td.job-name a").allTextContents()).toContain("ops/db-backup");
    expect(await page.locator("td.job-name a").allTextContents()).not.toContain("ops/sync-crm");
    // Worst first: the statuses down the page never get better.
    await page.goto(`${s.url}/jobs?sort=status`);
    const order = ["failed", "down", "late", "new", "running", "up", "paused"];
    const ranks = (await page.locator("td [data-job-status]").allTextContents()).map((st) => order.indexOf(st));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(ranks.at(-1)).toBe(order.indexOf("paused"));
    await page.goto(`${s.url}/jobs`);
    await screenshots(page, "jobs");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    expectClean(w);
    await w.context.close();
  });

  test("on a 360 px phone the list and a job page fit the screen", async () => {
    const w = await signedIn({ width: "phone" });
    for (const path of ["/jobs", "/jobs/ops/db-backup", "/jobs/new"]) {
      await w.page.goto(s.url + path);
      const [scroll, inner] = await w.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      expect(`${path} ${scroll! <= inner!}`).toBe(`${path} true`);
    }
    expectClean(w);
    await w.context.close();
  });
});

describe("a job's page", () => {
  test("status first, charts, snippets to copy, the log; screenshots and the WCAG check, light and dark", async () => {
    const w = await signedIn();
    const { page } = w;
    await w.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: s.url });
    await page.goto(`${s.url}/jobs/ops/db-backup`);
    expect(await ownStatus(page).textContent()).toBe("up");
    expect(await page.locator(".status-strip .mark").count()).toBe(12);
    expect(await page.locator(".duration-chart .bar").count()).toBe(12);
    // The copy button appears with the script, and copies the snippet.
    await page.getByText("wget", { exact: true }).click();
    const copy = page.locator('button[data-copy="#snippet-wget"]');
    await copy.click();
    await page.locator('button[data-copy="#snippet-wget"]', { hasText: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toStartWith("wget -q -T 10 -t 5 -O /dev/null http://127.0.0.1:");
    await screenshots(page, "job");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    const dark = await open(browser, s.url, { colorScheme: "dark" });
    await dark.context.addCookies(await w.context.cookies());
    await dark.page.goto(`${s.url}/jobs/ops/db-backup`);
    expect(seriousOf(await axeViolations(dark.page))).toEqual([]);
    await screenshots(dark.page, "job-dark");
    expectClean(w);
    expectClean(dark);
    await dark.context.close();
    await w.context.close();
  });

  test("a viewer sees the job with no button that would fail", async () => {
    const w = await signedIn({ email: "bob@example.com" });
    const { page } = w;
    await page.goto(`${s.url}/jobs/ops/db-backup`);
    expect(await ownStatus(page).textContent()).toBe("up");
    for (const name of ["Edit", "Pause", "Resume", "Delete…"]) expect(await page.getByRole("button", { name, exact: true }).count() + (await page.getByRole("link", { name, exact: true }).count())).toBe(0);
    await page.goto(`${s.url}/jobs`);
    expect(await page.locator('input[name="job"]').count()).toBe(0);
    expect(await page.getByRole("link", { name: "New job" }).count()).toBe(0);
    expectClean(w);
    await w.context.close();
  });

  test("delete asks first, then the job is gone", async () => {
    await s.api("/api/v1/jobs/ops/doomed", { method: "PUT", token: alice.token, json: { schedule: "@daily" } });
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/jobs/ops/doomed`);
    await page.getByRole("link", { name: "Delete…" }).click();
    await page.getByRole("heading", { name: "Delete ops/doomed?" }).waitFor();
    await page.getByRole("button", { name: "Delete the job" }).click();
    await page.waitForURL(`${s.url}/jobs`);
    expect(await page.getByRole("status").first().textContent()).toBe("Deleted ops/doomed.");
    expect(await page.getByRole("link", { name: "ops/doomed" }).count()).toBe(0);
    expectClean(w);
    await w.context.close();
  });
});

describe("escaping", () => {
  test("markup in a label, a run's output and a job name shows as text and never runs", async () => {
    const payload = "<img src=x onerror=\"window.__xss=1\">";
    const r = await s.api("/api/v1/jobs/ops/xss", { method: "PUT", token: alice.token, json: { schedule: "@daily", labels: { note: payload } } });
    const { ping_url } = (await r.json()) as { ping_url: string };
    await fetch(ping_url, { method: "POST", body: `<script>window.__xss=2</script>${payload}` });
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/jobs/ops/xss`);
    expect(await page.locator("pre.output").textContent()).toBe(`<script>window.__xss=2</script>${payload}`);
    expect(await page.locator(".chip").first().textContent()).toBe(`note=${payload}`);
    await page.goto(`${s.url}/jobs?namespace=ops`);
    expect(await page.locator(".row-chips .chip", { hasText: "note=" }).textContent()).toBe(`note=${payload}`);
    await page.goto(`${s.url}/jobs/new`);
    await page.getByLabel("Name", { exact: true }).fill(payload);
    await page.getByLabel("Schedule").fill("@daily");
    await page.getByRole("button", { name: "Create job" }).click();
    await page.locator("#name-error").waitFor();
    expect(await page.locator("#name-error").textContent()).toContain(JSON.stringify(payload));
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator("img[src=x]").count()).toBe(0);
    expectClean(w);
    await w.context.close();
  });
});
