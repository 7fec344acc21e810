// The agents pages in a real browser (Debian's Chromium), offline: every request to another host is
// aborted, and none may be made. Alice's hosts enroll and report through the real agent protocol:
// web1 runs the rotation and found lines of its own in root's crontab, db1 waits for its backup,
// batch-old stopped sending heartbeats. Alice adds an agent and copies its install command (whose
// token then enrolls a host), adopts a line after a wrong name, and bob, a viewer, finds no button.
// The pages pass axe's WCAG 2 A/AA check in light and dark; screenshots of the list, an agent and
// adding one at 1280 and 360 px go to test/console/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { getJob } from "../../src/jobs/jobs";
import { findTenant, updateTenantSettings } from "../../src/tenants/tenants";
import { findAgent } from "../../src/agents/registry";
import { PASSWORD, persona, startTestServer, TestClock, type Persona, type TestServer } from "../helpers";
import { until } from "../receiver";
import { axeViolations, launch, open, screenshots, seriousOf, type Watched, signIn, expectClean } from "./browser";
import { enrollHost, line, reportPass, type Host } from "./hosts";

const MIN = 60_000;
const clock = new TestClock();
const PAYLOAD = '<img src=x onerror="window.__xss=1">';
let browser: Browser;
let s: TestServer;
let alice: Persona;
let acme = "";
let web1: Host;

async function enrollmentToken(body: Record<string, unknown> = {}): Promise<string> {
  const r = await s.api("/api/v1/enrollment-tokens", { method: "POST", token: alice.token, json: { name: "hosts", ...body } });
  expect(r.status).toBe(201);
  return ((await r.json()) as { token: string }).token;
}

beforeAll(async () => {
  browser = await launch();
  s = await startTestServer({ CRONTOPUS_TICK_MS: "20" }, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "bob", "acme", "viewer");
  acme = findTenant(s.db, "acme")!.id;
  updateTenantSettings(s.db, acme, { name: "Acme Inc." });
  for (const [ref, command, selector] of [
    ["ops/rotate", "/usr/sbin/logrotate /etc/logrotate.conf", { role: "web" }],
    ["web/sitemap", "/opt/sitemap.sh", { hostname: "web1.acme.internal" }],
    ["web/cache-warm", "/opt/warm.sh", { role: "web" }],
    ["ops/db-backup", "/opt/backup.sh", { role: "db" }],
  ] as const) {
    const r = await s.api(`/api/v1/jobs/${ref}`, { method: "PUT", token: alice.token, json: { schedule: "@every 1h", command, agent: { selector } } });
    expect(r.status).toBe(201);
  }
  await enrollHost(s, await enrollmentToken({ labels: { role: "batch" } }), "batch-old.acme.internal", { platform: "darwin", arch: "arm64", os_version: "macOS 15.1" });
  clock.advance(40 * MIN);
  web1 = await enrollHost(s, await enrollmentToken({ labels: { role: "web", env: "prod" } }), "web1.acme.internal");
  await enrollHost(s, await enrollmentToken({ labels: { role: "db", env: "prod" } }), "db1.acme.internal", { version: "0.1.0" });
  await enrollHost(s, await enrollmentToken({ labels: { note: PAYLOAD } }), "win-7.acme.internal", { platform: "windows", scheduler: "schtasks", os_version: "Windows Server 2022" });
  await reportPass(
    s,
    web1,
    {
      "ops/rotate": { state: "applied", message: "unchanged" },
      "web/sitemap": { state: "drifted", message: "its lines were edited by hand; restored" },
      "web/cache-warm": { state: "error", message: "command: is 1204 bytes as written for cron; cron accepts at most 998" },
    },
    [line("a1b2c3d4e5f6", "0 5 * * *", "/usr/local/bin/legacy-report --all"), line("0f0f0f0f0f0f", "@reboot", "/usr/local/bin/warm-up"), line("dddddddddddd", "*/10 * * * *", `echo '${PAYLOAD}'`, "www-data")],
  );
  await until(() => findAgent(s.db, acme, "batch-old").status === "offline");
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
});

async function signedIn(opts: { width?: "desktop" | "phone"; email?: string; colorScheme?: "light" | "dark" } = {}): Promise<Watched> {
  return signIn(browser, s.url, opts.email ?? alice.email, PASSWORD, { width: opts.width, colorScheme: opts.colorScheme });
}

describe("adding an agent", () => {
  test("from the list's button: the form, then the install commands; the Linux one copied, its token enrolls a host that then shows in the list", async () => {
    const w = await signedIn();
    const { page } = w;
    await w.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: s.url });
    await page.goto(`${s.url}/agents`);
    await page.getByRole("link", { name: "Add an agent" }).first().click();
    await page.waitForURL(`${s.url}/agents/new`);
    await page.getByLabel("What it is for").fill("batch hosts");
    await page.getByLabel("Labels").fill("role=batch\nenv=prod");
    await page.getByLabel("Hosts it may enroll").fill("0");
    await page.getByRole("button", { name: "Create the install command" }).click();
    await page.locator("#max_uses-error").waitFor();
    expect(await page.getByLabel("Hosts it may enroll").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("What it is for").inputValue()).toBe("batch hosts");
    await page.getByLabel("Hosts it may enroll").fill("3");
    await screenshots(page, "agent-add");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await page.getByRole("button", { name: "Create the install command" }).click();
    await page.getByRole("heading", { name: "Install the agent" }).waitFor();

    const linux = page.getByRole("region", { name: "Linux and macOS" });
    await linux.getByRole("button", { name: "Copy" }).click();
    await linux.getByRole("button", { name: "Copied" }).waitFor();
    const command = await page.evaluate(() => navigator.clipboard.readText());
    expect(command).toMatch(new RegExp(`^curl -fsSL ${s.url}/install\\.sh \\| sh -s -- --token cte_[A-Za-z0-9_-]{43}$`));
    expect(await page.locator("#install-ps1").textContent()).toStartWith(`iex "& { $(irm ${s.url}/install.ps1) } -Token cte_`);
    await screenshots(page, "agent-added");
    expect(seriousOf(await axeViolations(page))).toEqual([]);

    const token = command.split("--token ")[1]!;
    await enrollHost(s, token, "batch-1.acme.internal");
    await page.goto(`${s.url}/agents`);
    const row = page.locator("tr", { has: page.getByRole("link", { name: "batch-1", exact: true }) });
    expect(await row.locator("[data-agent-status]").textContent()).toBe("online");
    expect(await row.locator(".chip").allTextContents()).toEqual(["role=batch", "env=prod"]);
    // Shown once: the list and the form never show it again.
    expect(await page.content()).not.toContain(token);
    expectClean(w);
    await w.context.close();
  });
});

describe("an agent's page", () => {
  test("adopt a line it found: a wrong name is said next to the field, then the job's page opens", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/agents`);
    await page.getByRole("link", { name: "web1", exact: true }).click();
    await page.waitForURL(`${s.url}/agents/${web1.id}`);
    const entry = page.locator("li.entry", { hasText: "/usr/local/bin/legacy-report --all" });
    await entry.getByLabel("Namespace").fill("ops");
    await entry.getByLabel("Job name").fill("Legacy Report");
    await entry.getByRole("button", { name: "Adopt" }).click();
    const fresh = page.locator("li.entry", { hasText: "/usr/local/bin/legacy-report --all" });
    await fresh.locator(".field-error").waitFor();
    expect(await fresh.getByLabel("Job name").getAttribute("aria-invalid")).toBe("true");
    expect(await fresh.getByLabel("Job name").inputValue()).toBe("Legacy Report");
    expect(await fresh.getByLabel("Namespace").inputValue()).toBe("ops");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await fresh.getByLabel("Job name").fill("legacy-report");
    await fresh.getByRole("button", { name: "Adopt" }).click();
    await page.waitForURL(`${s.url}/jobs/ops/legacy-report`);
    expect(await page.getByRole("status").first().textContent()).toBe("Adopted as ops/legacy-report: the agent swaps the line for the managed entry on its next pass.");
    expect(getJob(s.db, acme, "ops", "legacy-report").agent_selector).toEqual({ hostname: "web1.acme.internal" });
    await page.goBack();
    await page.reload();
    expect(await page.locator("li.entry", { hasText: "legacy-report --all" }).locator(".entry-adopted").textContent()).toBe("Adopted as ops/legacy-report: the agent swaps the line on its next pass.");
    expectClean(w);
    await w.context.close();
  });

  test("markup in a label and a discovered command shows as text and never runs", async () => {
    const w = await signedIn();
    const { page } = w;
    await page.goto(`${s.url}/agents/win-7`);
    expect(await page.locator(".chip").first().textContent()).toBe(`note=${PAYLOAD}`);
    await page.goto(`${s.url}/agents/${web1.id}`);
    expect(await page.locator("li.entry", { hasText: "www-data" }).locator(".entry-line").textContent()).toBe(`*/10 * * * * echo '${PAYLOAD}'`);
    await page.goto(`${s.url}/agents`);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator("img[src=x]").count()).toBe(0);
    expectClean(w);
    await w.context.close();
  });

  test("a viewer sees the list and the agent's page without a button or form that would fail", async () => {
    const w = await signedIn({ email: "bob@example.com" });
    const { page } = w;
    await page.goto(`${s.url}/agents`);
    expect(await page.getByRole("link", { name: "Add an agent" }).count()).toBe(0);
    await page.goto(`${s.url}/agents/${web1.id}`);
    expect(await page.locator("[data-instance-state]").count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator("form.adopt").count()).toBe(0);
    for (const name of ["Edit", "Delete…", "Adopt"]) expect((await page.getByRole("button", { name, exact: true }).count()) + (await page.getByRole("link", { name, exact: true }).count())).toBe(0);
    expectClean(w);
    await w.context.close();
  });
});

describe("looks and access", () => {
  test("the list and an agent's page: screenshots, and the WCAG check in light and dark", async () => {
    for (const colorScheme of ["light", "dark"] as const) {
      const w = await signedIn({ colorScheme });
      const { page } = w;
      await page.goto(`${s.url}/agents`);
      expect(await page.locator("#agents-table tbody tr").count()).toBeGreaterThanOrEqual(4);
      const batch = page.locator("tr", { has: page.getByRole("link", { name: "batch-old", exact: true }) });
      expect(await batch.locator("[data-agent-status]").textContent()).toBe("offline");
      expect(await batch.locator("td").nth(4).textContent()).toBe("40 min ago");
      const web = page.locator("tr", { has: page.getByRole("link", { name: "web1", exact: true }) });
      expect(await web.locator(".drift").textContent()).toBe("1 drifted1 error");
      expect(seriousOf(await axeViolations(page))).toEqual([]);
      await screenshots(page, colorScheme === "dark" ? "agents-dark" : "agents");
      await page.goto(`${s.url}/agents/${web1.id}`);
      expect(await page.locator("#agent-state [data-agent-status]").textContent()).toBe("online");
      expect(await page.locator("#agent-jobs [data-job-status]").count()).toBeGreaterThanOrEqual(3);
      expect(seriousOf(await axeViolations(page))).toEqual([]);
      await screenshots(page, colorScheme === "dark" ? "agent-dark" : "agent");
      expectClean(w);
      await w.context.close();
    }
  });

  test("on a 360 px phone the pages fit the screen", async () => {
    const w = await signedIn({ width: "phone" });
    for (const path of ["/agents", `/agents/${web1.id}`, "/agents/new", `/agents/${web1.id}/edit`]) {
      await w.page.goto(s.url + path);
      const [scroll, inner] = await w.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      expect(`${path} ${scroll! <= inner!}`).toBe(`${path} true`);
    }
    expectClean(w);
    await w.context.close();
  });
});
