// Live updates over HTTP, without a browser: the console's own event stream (GET /events) and the
// fragments its pages fetch again. Alice owns acme, victor is acme's viewer, charlie owns globex.
// Victor's stream hears every change of acme and nothing of globex; a page's stream starts where
// the page was rendered, so a ping between the two is not missed; the parts of the job page, the
// jobs list's statuses and chips, the dashboard and the runs list answer alone, only the tenant's.
// The tests run in any order: ops/backup's status is whatever the last test's ping left, so a test
// that reads a status, or needs runs to show, pings a job of its own.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PASSWORD, persona, startTestServer, TestClock, type Persona, type TestServer } from "../helpers";
import { dataOf, openEvents, type SseMessage, type SseStream } from "../sse";
import { FormClient } from "./client";

let s: TestServer;
// Real time, moved ahead by hand where a test needs its check-ins apart.
const clock = new TestClock({ running: true });
let alice: Persona, charlie: Persona;
let alicePage: FormClient, victorPage: FormClient, charliePage: FormClient;
const open: SseStream[] = [];
type JobAnswer = { id: string; ping_url: string };
let backup: JobAnswer, payroll: JobAnswer;

async function putApi(who: Persona, ns: string, name: string, json: Record<string, unknown>): Promise<JobAnswer> {
  const r = await s.api(`/api/v1/jobs/${ns}/${name}`, { method: "PUT", token: who.token, json });
  expect(r.status).toBeLessThan(300);
  return (await r.json()) as JobAnswer;
}

const cookieOf = (c: FormClient) => [...c.cookies].map(([k, v]) => `${k}=${v}`).join("; ");

/** The console's stream as the page opens it: with the session cookie, from the page's position if given. */
async function listen(c: FormClient, from?: string): Promise<SseStream> {
  const st = await openEvents(s.url, { cookie: cookieOf(c), path: from ? `/events?from=${encodeURIComponent(from)}` : "/events" });
  open.push(st);
  return st;
}

/** The position a page carries (its <meta name="live-events">). */
const positionOf = (html: string) => decodeURIComponent(/<meta name="live-events" content="\/events\?from=([^"]+)"/.exec(html)?.[1] ?? "");

const isJob = (id: string, status?: string) => (m: SseMessage) => m.event === "job" && dataOf(m).id === id && (status === undefined || dataOf(m).status === status);

beforeAll(async () => {
  s = await startTestServer({}, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "victor", "acme", "viewer");
  charlie = await persona(s.db, "charlie", "globex", "owner");
  backup = await putApi(alice, "ops", "backup", { schedule: "@every 1h", labels: { env: "prod" } });
  payroll = await putApi(charlie, "secret-ns", "payroll", { schedule: "@every 1h", labels: { env: "globex-only" } });
  alicePage = new FormClient(s.url);
  await alicePage.login(alice.email, PASSWORD);
  victorPage = new FormClient(s.url);
  await victorPage.login("victor@example.com", PASSWORD);
  charliePage = new FormClient(s.url);
  await charliePage.login(charlie.email, PASSWORD);
});
afterAll(async () => {
  for (const st of open) st.close();
  await s?.close();
});

describe("the console's stream, GET /events", () => {
  test("a viewer's stream says ready at once, hears every change of their tenant and nothing of another's", async () => {
    const acme = await listen(victorPage);
    const globex = await listen(charliePage);
    expect(acme.status).toBe(200);
    expect(acme.response.headers.get("content-type")).toStartWith("text/event-stream");
    await acme.next((m) => m.event === "ready");
    await globex.next((m) => m.event === "ready");
    expect((await fetch(`${payroll.ping_url}/fail`, { method: "POST", body: "globex payroll secret" })).status).toBe(200);
    await globex.next(isJob(payroll.id, "failed"));
    // Events leave in one pass over every tenant: once victor hears of acme's later ping, anything
    // of globex's would have reached him before it.
    expect((await fetch(backup.ping_url)).status).toBe(200);
    await acme.next(isJob(backup.id, "up"));
    await acme.next((m) => m.event === "run" && dataOf(m).job_id === backup.id);
    const heard = acme.messages.map((m) => `${m.event} ${m.data}`).join("\n");
    for (const secret of [payroll.id, "payroll", "secret-ns", "globex"]) expect(heard).not.toContain(secret);
  });

  test("a signed-out visitor gets no stream: the way to the login form (a browser's EventSource fails on it)", async () => {
    const anonymous = await openEvents(s.url, { path: "/events" });
    expect(anonymous.status).toBe(303);
    expect(anonymous.response.headers.get("location")).toBe("/login?next=%2Fevents");
    expect(anonymous.response.headers.get("content-type") ?? "").not.toContain("text/event-stream");
  });

  test("starts where the page was rendered: a ping between the page and its stream is heard", async () => {
    // Someone already follows acme (the tenant's events are kept while they do).
    const other = await listen(alicePage);
    await other.next((m) => m.event === "ready");
    const { html } = await alicePage.get("/jobs/ops/backup");
    const from = positionOf(html);
    expect(from).toMatch(/^[0-9a-z]+-\d+$/);
    expect((await fetch(`${backup.ping_url}/3`)).status).toBe(200);
    await other.next(isJob(backup.id, "failed"));
    const late = await listen(alicePage, from);
    const missed = await late.next(isJob(backup.id, "failed"));
    const ready = await late.next((m) => m.event === "ready");
    expect(late.messages.indexOf(missed)).toBeLessThan(late.messages.indexOf(ready));
  });

  test("a page rendered while nobody followed its tenant gets a reset instead (nothing was kept), and fetches all it shows again", async () => {
    // A tenant nobody has listened to: no channel, nothing kept.
    const dana = await persona(s.db, "dana", "initech", "owner");
    const danaPage = new FormClient(s.url);
    await danaPage.login(dana.email, PASSWORD);
    const page = await danaPage.get("/");
    const job = await putApi(dana, "default", "nightly", { schedule: "@daily" });
    await fetch(job.ping_url);
    const stream = await listen(danaPage, positionOf(page.html));
    await stream.next((m) => m.event === "ready");
    expect(stream.messages.map((m) => m.event)).toEqual(["reset", "ready"]);
  });
});

describe("the parts a page fetches again", () => {
  test("a job page's status, recent runs and history, each alone; the history's newest entries only", async () => {
    await fetch(`${backup.ping_url}/start`);
    await fetch(backup.ping_url, { method: "POST", body: "42 files" });
    const page = await alicePage.get("/jobs/ops/backup");
    for (const [id, part] of [
      ["job-live", "live"],
      ["job-recent", "recent"],
      ["job-history", "history"],
    ] as const) {
      expect(page.html).toContain(`id="${id}"`);
      const { r, html } = await alicePage.get(`/jobs/ops/backup/${part}`, { "hx-request": "true" });
      expect(`${part} ${r.status}`).toBe(`${part} 200`);
      expect(html).toMatch(new RegExp(`^<(section|div) id="${id}"`));
      expect(html).toContain(`hx-trigger="live"`);
      expect(html).not.toContain("<html");
    }
    const history = (await alicePage.get("/jobs/ops/backup/history")).html;
    expect(history).toContain("<code>42 files</code>");
    expect(history).toMatch(/<li class="log-run"><span class="run-word run-success">success<\/span>/);
    // The job's own events: its changes, its runs.
    expect(page.html).toContain(`data-live="job:${backup.id}"`);
    expect(page.html).toContain(`data-live="run:${backup.id}"`);
  });

  test("older log entries loaded in place hold the log as it is; a page of older entries is not live", async () => {
    const chatty = await putApi(alice, "ops", "chatty", { schedule: "@every 1m" });
    // A second apart: two check-ins in one millisecond would leave the first one's flip above the second run.
    for (let i = 0; i < 52; i++) {
      clock.advance(1000);
      expect((await fetch(chatty.ping_url)).status).toBe(200);
    }
    const page = await alicePage.get("/jobs/ops/chatty");
    expect(page.html).toContain('<div id="job-history" hx-get="/jobs/ops/chatty/history"');
    expect(page.html).not.toContain("data-live-hold");
    const more = /hx-get="(\/jobs\/ops\/chatty\/log\?cursor=[^"]+)"/.exec(page.html)![1]!.replaceAll("&amp;", "&");
    const older = await alicePage.get(more, { "hx-request": "true" });
    expect(older.html).toStartWith('<li class="log-run" data-live-hold>');
    expect(older.html.match(/data-live-hold/g)!.length).toBe(1);
    const cursor = decodeURIComponent(more.split("cursor=")[1]!);
    const olderPage = await alicePage.get(`/jobs/ops/chatty?log=${encodeURIComponent(cursor)}`);
    expect(olderPage.html).toContain('<div id="job-history">');
  });

  test("another tenant's job: nothing of it in any part (the status part sends the page to the list, as for a deleted job)", async () => {
    const live = await alicePage.get("/jobs/secret-ns/payroll/live", { "hx-request": "true" });
    expect(live.r.headers.get("hx-redirect")).toBe("/jobs");
    expect(live.html).toBe("");
    for (const part of ["recent", "history"]) {
      const { r, html } = await alicePage.get(`/jobs/secret-ns/payroll/${part}`, { "hx-request": "true" });
      expect(`${part} ${r.status}`).toBe(`${part} 404`);
      expect(html).not.toContain(payroll.id);
    }
  });

  test("the jobs list's statuses come with the chips for its filters when it asks", async () => {
    // A job of its own label, up: the chip's colour is its status alone.
    const staging = await putApi(alice, "ops", "staging-sync", { schedule: "@every 1h", labels: { env: "staging" } });
    expect((await fetch(staging.ping_url)).status).toBe(200);
    const list = await alicePage.get("/jobs?label=env%3Dstaging");
    const poll = /<div class="poll" hx-get="([^"]+)"/.exec(list.html)?.[1]?.replaceAll("&amp;", "&");
    expect(poll).toContain(`id=${staging.id}`);
    expect(poll).toContain("chips=1&label=env%3Dstaging");
    const { html } = await alicePage.get(poll!, { "hx-request": "true" });
    expect(html).toContain(`<span id="job-status-${staging.id}" hx-swap-oob="true">`);
    expect(html).toContain('<nav id="jobs-chips" class="chips" aria-label="Labels" hx-swap-oob="outerMorph">');
    // The chip in use takes its filter off again, as on the page.
    expect(html).toContain('<a class="chip chip-up chip-active" href="/jobs"');
    expect(html).not.toContain("globex-only");
    // Asked for another tenant's job: nothing of it.
    const theirs = await alicePage.get(`/jobs/statuses?id=${payroll.id}&chips=1`, { "hx-request": "true" });
    expect(theirs.html).not.toContain(payroll.id);
  });

  test("the dashboard's content alone, only the tenant's", async () => {
    // A run of acme's for the dashboard to show.
    expect((await fetch((await putApi(alice, "ops", "on-dashboard", { schedule: "@every 1h" })).ping_url)).status).toBe(200);
    const page = await victorPage.get("/");
    expect(page.html).toContain('<div id="dashboard" hx-get="/dashboard/live" hx-trigger="live"');
    const { r, html } = await victorPage.get("/dashboard/live", { "hx-request": "true" });
    expect(r.status).toBe(200);
    expect(html).toStartWith('<div id="dashboard"');
    expect(html).toContain('<a href="/jobs/ops/');
    expect(html).not.toContain("payroll");
  });

  test("the runs list's first page answers its results alone; an older page is not live", async () => {
    // A run of acme's for the list to show.
    expect((await fetch((await putApi(alice, "ops", "in-runs", { schedule: "@every 1h" })).ping_url)).status).toBe(200);
    const page = await alicePage.get("/runs");
    expect(page.html).toContain('<div id="runs-results" hx-get="/runs" hx-trigger="live" hx-swap="outerMorph" data-live="run"');
    const results = await alicePage.get("/runs", { "hx-request": "true", "hx-target": "div#runs-results" });
    expect(results.html).toStartWith('<div id="runs-results"');
    expect(results.html).toContain('<a href="/jobs/ops/');
    expect(results.html).not.toContain("payroll");
    // Filtered by a job: that job's runs.
    const one = await alicePage.get("/runs?job=ops/backup");
    expect(one.html).toContain(`data-live="run:${backup.id}"`);
    const older = await alicePage.get("/runs?cursor=1");
    expect(older.html).toContain('<div id="runs-results">');
  });
});
