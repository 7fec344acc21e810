// The dashboard over HTTP, on the server's injected clock: in alice's acme the sync went down
// half an hour in, the backup is late, the invoice run has just failed and the certificate renewal
// is running; an agent stopped sending heartbeats. Globex's failure is not acme's business.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEnrollmentToken, enroll } from "../../src/agents/agents";
import { findTenant } from "../../src/tenants/tenants";
import { PASSWORD, persona, startTestServer, TestClock, type Persona, type TestServer } from "../helpers";
import { until } from "../receiver";
import { FormClient } from "./client";

const MIN = 60_000;
const clock = new TestClock();
let s: TestServer;
let alice: Persona;
let browser: FormClient;

async function putJob(who: Persona, name: string, body: Record<string, unknown>) {
  const r = await s.api(`/api/v1/jobs/ops/${name}`, { method: "PUT", token: who.token, json: body });
  expect(r.status).toBe(201);
  return (await r.json()) as { ping_url: string };
}
const statusOf = async (name: string) => ((await (await s.api(`/api/v1/jobs/ops/${name}`, { token: alice.token })).json()) as { status: string }).status;

beforeAll(async () => {
  s = await startTestServer({ CRONTOPUS_TICK_MS: "20" }, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
  const gina = await persona(s.db, "gina", "globex", "owner");
  const sync = await putJob(alice, "sync", { schedule: "@every 30m", grace: "1m" });
  const backup = await putJob(alice, "db-backup", { schedule: "@every 1h", grace: "30m" });
  const invoice = await putJob(alice, "invoice-run", { schedule: "@daily" });
  const cert = await putJob(alice, "cert-renew", { schedule: "@daily" });
  await putJob(alice, "report", { schedule: "@daily" });
  const theirs = await putJob(gina, "payroll", { schedule: "@daily" });
  await fetch(sync.ping_url);
  await fetch(backup.ping_url);
  const acme = findTenant(s.db, "acme")!.id;
  const { token } = createEnrollmentToken(s.db, acme, null, { name: "hosts" }, clock.now());
  enroll(s.db, { token, hostname: "<b>web-7</b>", name: "web-7", platform: "linux", arch: "x64", scheduler: "cron", machine_id: "m-web-7" }, 60, clock.now());
  clock.advance(70 * MIN);
  await until(async () => (await statusOf("sync")) === "down" && (await statusOf("db-backup")) === "late");
  await fetch(`${invoice.ping_url}/fail`);
  await fetch(`${cert.ping_url}/start`);
  await fetch(`${theirs.ping_url}/fail`);
  browser = new FormClient(s.url);
  await browser.login(alice.email, PASSWORD);
  await until(async () => (await browser.get("/")).html.includes("web-7"));
});
afterAll(() => s.close());

/** The section of the page under the heading with this id. */
function section(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf("</section>", start));
}

const badge = (status: string) => `<span class="status" data-job-status="${status}">${status}</span>`;

describe("the dashboard", () => {
  test("counts the jobs by status, each count a link to its jobs", async () => {
    const { r, html } = await browser.get("/");
    expect(r.status).toBe(200);
    for (const [status, n] of [["failed", 1], ["down", 1], ["late", 1], ["running", 1], ["new", 1], ["up", 0]] as const) {
      expect(html).toContain(`<a class="${n ? "tile" : "tile tile-zero"}" href="/jobs?status=${status}"><span class="count">${n}</span>${badge(status)}</a>`);
    }
  });

  test("lists the jobs failing or down now, the newest first, each with its status and since when", async () => {
    const failing = section((await browser.get("/")).html, "failing");
    expect(failing).toContain("Failing or down (2)");
    const invoice = failing.indexOf('href="/jobs/ops/invoice-run"');
    const sync = failing.indexOf('href="/jobs/ops/sync"');
    expect(invoice).toBeGreaterThan(0);
    expect(sync).toBeGreaterThan(invoice);
    expect(failing).toContain(`${badge("failed")}<a href="/jobs/ops/invoice-run">ops/invoice-run</a>`);
    expect(failing).toContain(`${badge("down")}<a href="/jobs/ops/sync">ops/sync</a>`);
    // The sync went down 31 minutes in (30 minutes and its grace), 39 minutes before now.
    expect(failing).toMatch(/ops\/sync<\/a><span class="job-since">since <span class="since"><time datetime="[^"]+" data-local="datetime">[^<]+ UTC<\/time> <span class="muted">\(39 min ago\)<\/span>/);
    expect(failing).not.toContain("payroll");
  });

  test("lists the late and the running jobs", async () => {
    const html = (await browser.get("/")).html;
    expect(section(html, "late")).toContain(`${badge("late")}<a href="/jobs/ops/db-backup">ops/db-backup</a>`);
    expect(section(html, "running")).toContain(`${badge("running")}<a href="/jobs/ops/cert-renew">ops/cert-renew</a>`);
  });

  test("shows the recent runs, each a link to its run", async () => {
    const recent = section((await browser.get("/")).html, "recent-runs");
    const runs = ((await (await s.api("/api/v1/runs?limit=10", { token: alice.token })).json()) as { runs: { id: number }[] }).runs;
    expect([...recent.matchAll(/<a class="run-link" href="\/runs\/(\d+)"/g)].map((m) => Number(m[1]))).toEqual(runs.map((r) => r.id));
    expect(recent).toContain('data-run-status="failed"');
  });

  test("lists the agents offline, their host name escaped", async () => {
    const offline = section((await browser.get("/")).html, "agents-offline");
    expect(offline).toContain("Agents offline (1)");
    expect(offline).toContain(">web-7</a>");
    expect(offline).toContain("&lt;b&gt;web-7&lt;/b&gt;");
    expect(offline).not.toContain("<b>web-7</b>");
  });
});
