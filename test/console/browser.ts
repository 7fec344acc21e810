// Debian's Chromium driven by playwright-core, for the console's browser tests: offline (any request
// to another host is aborted and recorded), CSP violations and page errors recorded, screenshots
// at desktop and phone widths kept in test/console/screenshots/, and the axe-core WCAG check.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { expect } from "bun:test";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const SCREENSHOTS = join(import.meta.dir, "screenshots");

export const WIDTHS = { desktop: { width: 1280, height: 800 }, phone: { width: 360, height: 740 } } as const;

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

export interface Watched {
  context: BrowserContext;
  page: Page;
  /** Requests to any host but the server's, aborted. */
  elsewhere: string[];
  /** Console messages about the Content-Security-Policy, and uncaught page errors. */
  problems: string[];
}

/** A fresh context (no cookies) on `base`, everything outside it aborted and recorded. */
export async function open(browser: Browser, base: string, opts: { width?: keyof typeof WIDTHS; colorScheme?: "light" | "dark" } = {}): Promise<Watched> {
  const context = await browser.newContext({ viewport: WIDTHS[opts.width ?? "desktop"], colorScheme: opts.colorScheme ?? "light" });
  const host = new URL(base).host;
  const elsewhere: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).host === host) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (/content security policy|refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  return { context, page, elsewhere, problems };
}

/** Saves the page at both widths (full page) as screenshots/<name>-desktop.png and -phone.png. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const [label, size] of Object.entries(WIDTHS)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(WIDTHS.desktop);
}

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * The page's WCAG 2 A/AA violations as axe-core finds them. axe is evaluated through the
 * DevTools protocol, which the page's CSP does not govern: the page itself allows no such script.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}

/** The serious and critical ones, as lines a failing test prints. */
export const seriousOf = (violations: AxeViolation[]) =>
  violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);

/** A new browser context signed in through the login form as `email`, on the dashboard. */
export async function signIn(
  browser: Browser,
  base: string,
  email: string,
  password: string,
  opts: { width?: keyof typeof WIDTHS; colorScheme?: "light" | "dark" } = {},
): Promise<Watched> {
  const w = await open(browser, base, { width: opts.width, colorScheme: opts.colorScheme });
  await w.page.goto(`${base}/login`);
  await w.page.getByLabel("Email").fill(email);
  await w.page.getByLabel("Password", { exact: true }).fill(password);
  await w.page.getByRole("button", { name: "Sign in" }).click();
  await w.page.waitForURL(`${base}/`);
  return w;
}

/** Nothing went to another host, and the CSP refused nothing and no script failed. */
export function expectClean(w: Watched): void {
  expect(w.elsewhere).toEqual([]);
  expect(w.problems).toEqual([]);
}
