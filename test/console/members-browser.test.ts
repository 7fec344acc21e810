// Members by invitation in a real browser (Debian's Chromium), offline, with a real SMTP relay
// (aiosmtpd, test/smtp.ts). Alice owns Acme Inc. and invites nora, who has no account: the link
// comes by mail, nora opens it in a browser of her own, creates her account there and lands on
// Acme's dashboard; then alice sees her among the members. The members page and the invitation
// page pass axe's WCAG 2 A/AA check in light and dark and fit a 360 px phone; screenshots of both
// at 1280 and 360 px go to test/console/screenshots/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { createInvitation, invitationUrl } from "../../src/tenants/invitations";
import { findTenant, updateTenantSettings } from "../../src/tenants/tenants";
import { PASSWORD, persona, sessionCaller, startTestServer, type Persona, type TestServer } from "../helpers";
import { startSmtpServer, type SmtpServer } from "../smtp";
import { axeViolations, launch, open, screenshots, seriousOf, WIDTHS, type Watched, signIn, expectClean } from "./browser";

let browser: Browser;
let smtp: SmtpServer;
let s: TestServer;
let alice: Persona;
let acme = "";

beforeAll(async () => {
  browser = await launch();
  smtp = await startSmtpServer();
  s = await startTestServer({ CRONTOPUS_SMTP_URL: smtp.url, CRONTOPUS_SMTP_FROM: "crontopus@acme.test", CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "dave", "acme", "admin");
  await persona(s.db, "val", "acme", "viewer");
  acme = findTenant(s.db, "acme")!.id;
  updateTenantSettings(s.db, acme, { name: "Acme Inc." });
  await s.api("/api/v1/jobs/ops/db-backup", { method: "PUT", token: alice.token, json: { schedule: "0 2 * * *" } });
});

afterAll(async () => {
  await browser?.close();
  await s?.close();
  smtp?.stop();
});

async function signedIn(opts: { colorScheme?: "light" | "dark" } = {}): Promise<Watched> {
  return signIn(browser, s.url, alice.email, PASSWORD, opts);
}

/** The page is no wider than a 360 px phone. */
async function fitsPhone(page: Page) {
  await page.setViewportSize(WIDTHS.phone);
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  await page.setViewportSize(WIDTHS.desktop);
  expect(scroll).toBeLessThanOrEqual(inner!);
}

describe("invite a member and accept", () => {
  test("alice invites nora, the link comes by mail, nora creates her account through it and sees Acme's dashboard; then alice sees her", async () => {
    const owner = await signedIn();
    await owner.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: s.url });
    const { page } = owner;
    await page.goto(`${s.url}/settings/members`);
    expect(await page.getByRole("link", { name: "Members" }).getAttribute("aria-current")).toBe("page");
    await page.getByLabel("Email", { exact: true }).fill("nora@example.com");
    await page.getByLabel("Role", { exact: true }).selectOption("member");
    await page.getByRole("button", { name: "Invite", exact: true }).click();
    const answer = page.locator("#invited");
    await answer.waitFor({ timeout: 15_000 });
    expect(await answer.getByRole("heading").textContent()).toBe("Invitation for nora@example.com");
    expect(await answer.locator(".invite-mail").textContent()).toBe("It is also being mailed to nora@example.com.");
    const shown = (await page.locator("#invite-url").textContent())!;
    expect(shown).toMatch(new RegExp(`^${s.url}/invitations/cti_[A-Za-z0-9_-]{43}$`));
    // The copy button (shown by the script) copies the link.
    await answer.getByRole("button", { name: "Copy" }).click();
    await answer.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(shown);
    expect(await page.locator("table.invitations tr", { hasText: "nora@example.com" }).count()).toBe(1);
    expect(seriousOf(await axeViolations(page))).toEqual([]);
    await screenshots(page, "members-invited");

    // The mail, through the relay: the same link.
    const mail = await smtp.next();
    expect(mail).toMatchObject({ to: ["nora@example.com"], subject: "You are invited to Acme Inc. on Crontopus", event: "invitation" });
    const link = /(http\S+\/invitations\/cti_[A-Za-z0-9_-]{43})/.exec(mail.body)![1]!;
    expect(link).toBe(shown);

    // Nora, in a browser of her own, signed out: the page says what it is, and she makes her account.
    const nora = await open(browser, s.url);
    await nora.page.goto(link);
    expect(nora.page.url()).toBe(link);
    expect(await nora.page.getByRole("heading", { level: 1 }).textContent()).toBe("Join Acme Inc.");
    expect(await nora.page.locator(".invitation-facts").textContent()).toContain("Invited byAlice");
    expect(await nora.page.getByLabel("Email").inputValue()).toBe("nora@example.com");
    expect(await nora.page.getByLabel("Email").getAttribute("readonly")).toBe("");
    expect(seriousOf(await axeViolations(nora.page))).toEqual([]);
    await screenshots(nora.page, "invitation");
    await nora.page.getByLabel("Your name").fill("Nora");
    await nora.page.getByLabel("Password", { exact: true }).fill("nora-password-1");
    await nora.page.getByLabel("Password again").fill("nora-password-2");
    await nora.page.getByRole("button", { name: "Create account and join Acme Inc." }).click();
    await nora.page.locator("#confirm-error").waitFor({ timeout: 15_000 });
    expect(await nora.page.locator("#confirm-error").textContent()).toBe("The two passwords differ.");
    expect(await nora.page.getByLabel("Password again").getAttribute("aria-invalid")).toBe("true");
    expect(await nora.page.getByLabel("Your name").inputValue()).toBe("Nora");
    await nora.page.getByLabel("Password", { exact: true }).fill("nora-password-1");
    await nora.page.getByLabel("Password again").fill("nora-password-1");
    await nora.page.getByRole("button", { name: "Create account and join Acme Inc." }).click();
    await nora.page.waitForURL(`${s.url}/`, { timeout: 15_000 });
    expect(await nora.page.getByRole("status").first().textContent()).toBe("Welcome to Acme Inc.: you joined it as a member. Sign in with nora@example.com from now on.");
    expect(await nora.page.locator(".tenant-name").textContent()).toBe("Acme Inc.");
    expect(await nora.page.locator(".who").textContent()).toBe("nora@example.com");
    await nora.page.getByRole("link", { name: "Jobs", exact: true }).click();
    await nora.page.getByRole("link", { name: "ops/db-backup" }).waitFor({ timeout: 15_000 });
    // The link is used up.
    await nora.page.goto(link);
    expect(await nora.page.getByRole("heading", { level: 1 }).textContent()).toBe("This invitation link does not work");

    // Alice sees her among the members, no longer among the pending invitations.
    await page.goto(`${s.url}/settings/members`);
    const row = page.locator('tr[data-member="nora@example.com"]');
    expect(await row.locator("[data-role]").textContent()).toBe("member");
    expect(await row.locator("td").nth(1).textContent()).toBe("Nora");
    expect(await page.locator("table.invitations tr", { hasText: "nora@example.com" }).count()).toBe(0);
    expectClean(owner);
    expectClean(nora);
    await nora.context.close();
    await owner.context.close();
  });

  test("alice changes a role and removes a member after confirming; a viewer sees no control", async () => {
    await persona(s.db, "otto", "acme", "viewer");
    const owner = await signedIn();
    const { page } = owner;
    await page.goto(`${s.url}/settings/members`);
    await page.getByLabel("Role of otto@example.com").selectOption("admin");
    await page.getByRole("button", { name: "Change the role of otto@example.com" }).click();
    await page.getByRole("status").filter({ hasText: "otto@example.com is now an admin." }).waitFor({ timeout: 15_000 });
    expect(await page.locator('tr[data-member="otto@example.com"] [data-role]').textContent()).toBe("admin");
    // Dismissing the question changes nothing; accepting it removes him.
    page.once("dialog", (d) => d.dismiss());
    await page.getByRole("button", { name: "Remove otto@example.com" }).click();
    expect(await page.locator('tr[data-member="otto@example.com"]').count()).toBe(1);
    page.once("dialog", (d) => {
      expect(d.message()).toBe("Remove otto@example.com from Acme Inc.? Their API tokens for this tenant stop working.");
      return d.accept();
    });
    await page.getByRole("button", { name: "Remove otto@example.com" }).click();
    await page.getByRole("status").filter({ hasText: "Removed otto@example.com from Acme Inc." }).waitFor({ timeout: 15_000 });
    expect(await page.locator('tr[data-member="otto@example.com"]').count()).toBe(0);
    expectClean(owner);
    await owner.context.close();

    const viewer = await open(browser, s.url);
    await viewer.page.goto(`${s.url}/login`);
    await viewer.page.getByLabel("Email").fill("val@example.com");
    await viewer.page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await viewer.page.getByRole("button", { name: "Sign in" }).click();
    await viewer.page.waitForURL(`${s.url}/`);
    await viewer.page.goto(`${s.url}/settings/members`);
    expect(await viewer.page.locator("main form").count()).toBe(0);
    expect(await viewer.page.locator('tr[data-member="alice@example.com"]').count()).toBe(1);
    expectClean(viewer);
    await viewer.context.close();
  });
});

describe("the pages' quality", () => {
  test("both pages pass the WCAG check in the dark theme and fit a 360 px phone", async () => {
    const owner = await signedIn({ colorScheme: "dark" });
    await owner.page.goto(`${s.url}/settings/members`);
    expect(seriousOf(await axeViolations(owner.page))).toEqual([]);
    await fitsPhone(owner.page);
    await screenshots(owner.page, "members-dark");

    const inv = createInvitation(s.db, await sessionCaller(s.db, alice.id, acme), { email: "pia@example.com", role: "viewer" }, Date.now());
    const url = invitationUrl(s.url, inv.token);
    const visitor = await open(browser, s.url, { colorScheme: "dark" });
    await visitor.page.goto(url);
    expect(await visitor.page.getByRole("heading", { level: 1 }).textContent()).toBe("Join Acme Inc.");
    expect(seriousOf(await axeViolations(visitor.page))).toEqual([]);
    await fitsPhone(visitor.page);
    await screenshots(visitor.page, "invitation-dark");

    // Signed in as someone else (alice): the page says so and offers to log out.
    await owner.page.goto(url);
    expect(await owner.page.getByRole("button", { name: "Log out and continue as pia@example.com" }).count()).toBe(1);
    expect(seriousOf(await axeViolations(owner.page))).toEqual([]);
    await fitsPhone(owner.page);
    await screenshots(owner.page, "invitation-other-account");
    await owner.page.getByRole("button", { name: "Log out and continue as pia@example.com" }).click();
    await owner.page.getByRole("button", { name: "Create account and join Acme Inc." }).waitFor({ timeout: 15_000 });
    expect(owner.page.url()).toBe(url);

    // A dead link's page, and the members page at 360 px in light.
    await visitor.page.goto(`${s.url}/invitations/cti_not-a-token`);
    expect(await visitor.page.getByRole("heading", { level: 1 }).textContent()).toBe("This invitation link does not work");
    expect(seriousOf(await axeViolations(visitor.page))).toEqual([]);
    await screenshots(visitor.page, "invitation-gone");
    const light = await signedIn();
    await light.page.goto(`${s.url}/settings/members`);
    await fitsPhone(light.page);
    await screenshots(light.page, "members");
    for (const w of [owner, visitor, light]) {
      expectClean(w);
      await w.context.close();
    }
  });
});
