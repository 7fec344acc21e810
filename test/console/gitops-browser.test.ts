// The GitOps page in a real browser (Debian's Chromium), offline, through a live server, against real
// bare repositories over file:// (CRONTOPUS_ALLOW_PRIVATE_TARGETS=true). Each story has its own
// tenant. The owner connects a repository in the form (a field error first), syncs now and sees ok in
// place, the plan loaded after the page and the jobs in the list; a broken commit shows its error
// with path:line:column; a git-managed job's page has its source and no Edit or Delete, and pauses;
// the dashboard carries a banner while the sync fails; the viewer reads without secrets or forms; a
// post without the token is refused; the deploy key button makes a key on the server and shows it; the
// webhook URL copies. No request leaves the server, the CSP refuses nothing, no script fails; axe
// finds nothing serious; the page fits a phone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { findJob } from "../../src/jobs/jobs";
import { gitopsStatus } from "../../src/gitops/sync";
import { PASSWORD, startTestServer, type TestServer } from "../helpers";
import { axeViolations, expectClean, launch, screenshots, seriousOf, signIn } from "./browser";
import { BROKEN, connectApi, manifest, settled, story, type Story } from "./gitops-kit";

let browser: Browser;
let s: TestServer;
const stories: Story[] = [];

beforeAll(async () => {
  browser = await launch();
  s = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
  for (const st of stories) st.repo.close();
});

async function newStory(slug: string, opts: { viewer?: boolean } = {}) {
  const st = await story(s, slug, opts);
  stories.push(st);
  return st;
}

const TIMEOUT = { timeout: 30_000 };

describe("the GitOps page", () => {
  test("the owner connects in the form after a field error, syncs now, sees ok in place, the plan and history, and the jobs in the list", async () => {
    const st = await newStory("first");
    const head = st.repo.commit("two jobs", { "production/backup.yaml": manifest("backup", "@daily", { command: "/usr/local/bin/backup" }), "staging/report.yaml": manifest("report") });
    const w = await signIn(browser, s.url, st.owner.email, PASSWORD);
    const { page } = w;
    await page.goto(`${s.url}/settings`);
    await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: "GitOps" }).click();
    await page.waitForURL(`${s.url}/settings/gitops`);
    await page.getByLabel("Repository URL").fill(st.repo.url);
    await page.getByLabel("Sync every").fill("5s");
    await page.getByRole("button", { name: "Connect the repository" }).click();
    await page.locator("#interval-error").waitFor();
    expect(await page.locator("#interval-error").textContent()).toBe("Must be at least 10s.");
    expect(await page.getByLabel("Repository URL").inputValue()).toBe(st.repo.url);
    await page.getByLabel("Sync every").fill("1m");
    await page.getByRole("button", { name: "Connect the repository" }).click();
    await page.getByRole("status").filter({ hasText: "Repository connected." }).waitFor();
    await settled(s, st.tenantId);

    // Sync now, through htmx: the result in place, the page not reloaded.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.locator(".sync-result").waitFor(TIMEOUT);
    expect(await page.locator(".sync-result").textContent()).toContain(`Synced ${head.slice(0, 12)}: ok.`);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
    expect(await page.locator("#gitops-status [data-gitops-state]").first().textContent()).toBe("ok");
    expect(await page.locator("#gitops-history .sync-entry").count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator("#gitops-history").textContent()).toContain("two jobs");
    // The plan of the head, fetched after the page: nothing to do now.
    await page.locator("#gitops-plan").filter({ hasText: "would do: nothing" }).waitFor(TIMEOUT);
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await screenshots(page, "gitops");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Jobs" }).click();
    await page.getByRole("link", { name: "backup" }).first().waitFor();
    expect(await page.locator("main").textContent()).toContain("report");
    expectClean(w);
    await w.context.close();
  });

  test("a broken commit among good ones shows degraded with the error's path:line:column; the plan lists it too", async () => {
    const st = await newStory("broken");
    st.repo.commit("good", { "staging/report.yaml": manifest("report") });
    await connectApi(s, st);
    st.repo.commit("break one", { "staging/broken.yaml": BROKEN, "staging/extra.yaml": manifest("extra") });
    const w = await signIn(browser, s.url, st.owner.email, PASSWORD);
    const { page } = w;
    await page.goto(`${s.url}/settings/gitops`);
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.locator(".sync-result").waitFor(TIMEOUT);
    expect(await page.locator("#gitops-status [data-gitops-state]").first().textContent()).toBe("degraded");
    const error = page.locator(".gitops-errors li");
    expect(await error.count()).toBe(1);
    expect(await error.locator(".file-ref").textContent()).toBe("staging/broken.yaml:6:3");
    expect(await error.locator(".log-reason").textContent()).toContain("schedule");
    expect(findJob(s.db, st.tenantId, "staging", "extra")).not.toBeNull();
    await page.locator("#gitops-plan .plan-error").waitFor(TIMEOUT);
    expect(await page.locator("#gitops-plan .plan-error .file-ref").textContent()).toBe("staging/broken.yaml:6:3");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await screenshots(page, "gitops-degraded");
    expectClean(w);
    await w.context.close();
  });

  test("a git-managed job's page shows its source and no Edit or Delete; Pause works, shown as a runtime override", async () => {
    const st = await newStory("managed");
    const commit = st.repo.commit("one", { "ops/backup.yaml": manifest("backup") });
    await connectApi(s, st);
    const w = await signIn(browser, s.url, st.owner.email, PASSWORD);
    const { page } = w;
    await page.goto(`${s.url}/jobs/ops/backup`);
    const source = page.locator("#job-source");
    expect(await source.getByRole("heading").textContent()).toBe("Managed by Git");
    expect(await source.textContent()).toContain("ops/backup.yaml");
    expect(await source.textContent()).toContain(commit.slice(0, 12));
    expect(await source.textContent()).toContain(st.repo.url);
    expect(await page.getByRole("link", { name: "Edit" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Delete…" }).count()).toBe(0);
    expect(await page.locator(".page-head").textContent()).toContain("Managed by Git: change it in the repository.");
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByText("Paused here: a runtime override, which a sync does not undo.").waitFor();
    expect(await page.locator("[data-job-status]").first().textContent()).toBe("paused");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await screenshots(page, "gitops-job");
    expectClean(w);
    await w.context.close();
  });

  test("the dashboard shows a banner while the sync fails, which leads to the GitOps page", async () => {
    const st = await newStory("banner");
    st.repo.commit("one", { "a.yaml": manifest("a") });
    await connectApi(s, st);
    st.repo.forcePushOrphan("everything gone", {});
    expect((await s.ctx.gitops.sync(st.tenantId, "manual")).state).toBe("failing");
    const w = await signIn(browser, s.url, st.owner.email, PASSWORD);
    const { page } = w;
    const banner = page.locator(".gitops-banner");
    await banner.waitFor();
    expect(await banner.getAttribute("data-gitops-state")).toBe("failing");
    expect(await banner.textContent()).toContain("The GitOps sync is failing");
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await screenshots(page, "gitops-dashboard");
    await banner.getByRole("link", { name: "See the sync" }).click();
    await page.waitForURL(`${s.url}/settings/gitops`);
    expect(await page.locator("#gitops-status [data-gitops-state]").first().textContent()).toBe("failing");
    expect(await page.locator(".gitops-message").textContent()).toContain("is empty");
    expectClean(w);
    await w.context.close();
  });

  test("the viewer sees the page read-only, without the secret or any form; a post without the token is refused", async () => {
    const st = await newStory("viewer", { viewer: true });
    st.repo.commit("one", { "a.yaml": manifest("a") });
    await connectApi(s, st);
    const w = await signIn(browser, s.url, st.viewer!.email, PASSWORD);
    const { page } = w;
    await page.goto(`${s.url}/settings/gitops`);
    expect(await page.locator("#webhook-url").textContent()).toContain("/api/v1/gitops/webhook/");
    expect(await page.locator("#webhook-secret").count()).toBe(0);
    expect(await page.getByText("Owners and admins see the secret.").count()).toBe(1);
    expect(await page.locator("form[action='/settings/gitops']").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Sync now" }).count()).toBe(0);
    expect(await page.locator("[data-deploy-key]").count()).toBe(0);
    expect(await page.locator("main").textContent()).toContain(st.repo.url);
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await screenshots(page, "gitops-viewer");
    // A post from the page without the CSRF token: refused, and nothing ran.
    const before = gitopsStatus(s.db, st.tenantId).last_sync_at;
    const status = await page.evaluate(async () => (await fetch("/settings/gitops/sync", { method: "POST" })).status);
    expect(status).toBe(403);
    expect(gitopsStatus(s.db, st.tenantId).last_sync_at).toBe(before);
    expectClean(w);
    await w.context.close();
  });

  test("the owner copies the webhook URL and makes a deploy key for an ssh remote, shown with its Copy button", async () => {
    const st = await newStory("keys");
    // An ssh remote nobody answers on: the key is made whether or not the forge is reachable.
    await connectApi(s, st, { url: "ssh://git@127.0.0.1:1/acme/jobs.git" });
    const w = await signIn(browser, s.url, st.owner.email, PASSWORD);
    const { page, context } = w;
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: s.url });
    await page.goto(`${s.url}/settings/gitops`);
    await page.locator("#webhook-url").locator("xpath=..").getByRole("button", { name: "Copy" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe((await page.locator("#webhook-url").textContent())!);

    expect(await page.locator("#deploy-key-value").count()).toBe(0);
    await page.getByRole("button", { name: "Make deploy key" }).click();
    await page.locator("#deploy-key-value").waitFor({ state: "visible" });
    const shown = (await page.locator("#deploy-key").textContent())!;
    // The key the server made and keeps: the same line the API shows, for this tenant.
    const settings = (await (await s.api("/api/v1/gitops", { token: st.owner.token })).json()) as { ssh_public_key: string; has_ssh_key: boolean };
    expect(shown).toBe(settings.ssh_public_key);
    expect(shown).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ crontopus@/);
    expect(settings.has_ssh_key).toBe(true);
    await page.locator("#deploy-key-value").getByRole("button", { name: "Copy" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(shown);
    expect(await page.getByRole("button", { name: "Make a new deploy key" }).count()).toBe(1);
    expectClean(w);
    await w.context.close();
  });

  test("fits a 360 px phone in the dark theme (the weight budget is test/console/gitops.test.ts's)", async () => {
    const st = await newStory("phone");
    st.repo.commit("one", { "a.yaml": manifest("a"), "b.yaml": BROKEN });
    await connectApi(s, st);
    const w = await signIn(browser, s.url, st.owner.email, PASSWORD, { width: "phone", colorScheme: "dark" });
    const { page } = w;
    await page.goto(`${s.url}/settings/gitops`);
    await page.locator("#gitops-plan .plan-error").waitFor(TIMEOUT);
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(scroll).toBeLessThanOrEqual(inner);
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await screenshots(page, "gitops-dark");
    expectClean(w);
    await w.context.close();
  });
});
