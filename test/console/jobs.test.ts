// The jobs pages over HTTP, without a browser. Alice owns acme, bob is a viewer in acme, gina owns
// globex (whose payroll job acme must never see). Alice lists, filters, orders and pages her jobs,
// pauses and resumes several at once, opens a job's page (status, schedule, ping URLs, runs, flips,
// uptime, agents), creates jobs by form and by YAML (errors next to their field), edits and deletes
// them; bob sees everything and no button that would fail for him; every change needs the CSRF token.
// The tests run in any order: a test that pauses, deletes, pings or edits a job makes that job itself
// (in a namespace of its own, outside the lists and filters the others read), and the full list
// expects the jobs the other tests created.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getJob, listJobs, putJob } from "../../src/jobs/jobs";
import { findTenant, getTenantSettings } from "../../src/tenants/tenants";
import { createEnrollmentToken, enroll } from "../../src/agents/agents";
import { PASSWORD, persona, startTestServer, type Persona, type TestServer } from "../helpers";
import { FormClient } from "./client";

let s: TestServer;
let alice: Persona;
let acme = "";
let globex = "";
let alicePage: FormClient;
let bobPage: FormClient;
const pingOf: Record<string, string> = {};

async function putApi(who: Persona, ns: string, name: string, json: Record<string, unknown>) {
  const r = await s.api(`/api/v1/jobs/${ns}/${name}`, { method: "PUT", token: who.token, json });
  expect(r.status).toBeLessThan(300);
  return (await r.json()) as { id: string; ping_url: string };
}

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "bob", "acme", "viewer");
  const gina = await persona(s.db, "gina", "globex", "owner");
  acme = findTenant(s.db, "acme")!.id;
  globex = findTenant(s.db, "globex")!.id;
  await putApi(gina, "ops", "payroll", { schedule: "@daily", labels: { env: "secret" } });

  // acme: db-backup up (with a start, so it has a duration), report failed, cleanup never heard from.
  for (const [name, labels] of [
    ["db-backup", { env: "prod", team: "db" }],
    ["report", { env: "prod" }],
    ["cleanup", { env: "staging" }],
  ] as const) {
    const agent = name === "db-backup" ? { command: "/opt/backup.sh", agent: { selector: { hostname: "db1.example.com" } } } : {};
    pingOf[name] = (await putApi(alice, "ops", name, { schedule: "*/15 * * * *", labels, ...agent })).ping_url;
  }
  await fetch(`${pingOf["db-backup"]}/start`);
  await fetch(pingOf["db-backup"]!, { method: "POST", body: "backup done: 42 files" });
  await fetch(`${pingOf.report}/fail`, { method: "POST", body: "disk full" });
  // Sixty small jobs in namespace bulk, to page through.
  for (let i = 0; i < 60; i++) putJob(s.db, acme, "bulk", `job-${String(i).padStart(2, "0")}`, { schedule: "@hourly" }, Date.now());

  alicePage = new FormClient(s.url);
  await alicePage.login(alice.email, PASSWORD);
  bobPage = new FormClient(s.url);
  await bobPage.login("bob@example.com", PASSWORD);
});
afterAll(() => s.close());

/** The (data-job-status, text) of every status element in some HTML. */
const statuses = (html: string) => [...html.matchAll(/<span class="status" data-job-status="([a-z]+)">([^<]*)<\/span>/g)].map((m) => [m[1], m[2]]);
/** The job links of a list page, in order. */
const listed = (html: string) => [...html.matchAll(/<td class="job-name"><a href="\/jobs\/([^"]+)"/g)].map((m) => m[1]);
const hx = { "hx-request": "true", "hx-target": "div#jobs-results" };
/** Every job of acme as it stands now, by namespace and name (sorted here, not by the query the list uses). */
function acmeJobs(): string[] {
  const jobs = listJobs(s.db, acme, { limit: 500 }).jobs;
  expect(jobs.length).toBeLessThan(500);
  return jobs
    .sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1))
    .map((j) => `${j.namespace}/${j.name}`);
}

describe("the jobs list", () => {
  test("lists the tenant's jobs, 50 a page, with a link to the next page; every status carries data-job-status with its word", async () => {
    const { r, html } = await alicePage.get("/jobs");
    expect(r.status).toBe(200);
    // The fixture's 63 jobs, and those other tests created before this one.
    const all = acmeJobs();
    expect(all).toEqual(expect.arrayContaining([...Array.from({ length: 60 }, (_, i) => `bulk/job-${String(i).padStart(2, "0")}`), "ops/cleanup", "ops/db-backup", "ops/report"]));
    const jobs = listed(html);
    expect(jobs.length).toBe(50);
    expect(jobs).toEqual(all.slice(0, 50));
    expect(html).not.toContain("payroll");
    for (const [word, text] of statuses(html)) expect(text).toBe(word!);
    const next = /<a href="(\/jobs\?cursor=[^"]+)" rel="next">/.exec(html)![1]!.replaceAll("&amp;", "&");
    const second = await alicePage.get(next);
    // 63 jobs at least: two pages when no more than 100, the second all the rest.
    expect(all.length).toBeLessThanOrEqual(100);
    expect(listed(second.html)).toEqual(all.slice(50));
    expect(second.html).not.toContain('rel="next"');
  });

  test("filters by namespace, label, status and text, kept in the URL", async () => {
    expect(listed((await alicePage.get("/jobs?namespace=ops")).html)).toEqual(["ops/cleanup", "ops/db-backup", "ops/report"]);
    expect(listed((await alicePage.get("/jobs?label=env%3Dprod")).html)).toEqual(["ops/db-backup", "ops/report"]);
    expect(listed((await alicePage.get("/jobs?label=env%3Dprod&label=team%3Ddb")).html)).toEqual(["ops/db-backup"]);
    expect(listed((await alicePage.get("/jobs?status=failed")).html)).toEqual(["ops/report"]);
    expect(listed((await alicePage.get("/jobs?q=BACK")).html)).toEqual(["ops/db-backup"]);
    // The filter form shows what is filtered; the order's links keep the filters.
    const { html } = await alicePage.get("/jobs?namespace=ops&status=up");
    expect(html).toMatch(/<option value="ops" selected>ops<\/option>/);
    expect(html).toMatch(/<option value="up" selected>up<\/option>/);
    expect(html).toContain('href="/jobs?namespace=ops&status=up&sort=last_run"');
  });

  test("orders by status (worst first), last run and next run", async () => {
    expect(listed((await alicePage.get("/jobs?namespace=ops&sort=status")).html)).toEqual(["ops/report", "ops/cleanup", "ops/db-backup"]);
    expect(listed((await alicePage.get("/jobs?namespace=ops&sort=last_run")).html)[2]).toBe("ops/cleanup");
    const { r, html } = await alicePage.get("/jobs?sort=colour");
    expect(r.status).toBe(422);
    expect(html).toContain("Sort: must be one of name, status, last_run, next_run.");
  });

  test("label chips link to their filter and carry the worst status of their jobs", async () => {
    const { html } = await alicePage.get("/jobs");
    expect(html).toContain('<a class="chip chip-failed" href="/jobs?label=env%3Dprod" title="worst status of its jobs: failed">env=prod (2)</a>');
    expect(html).toContain('<a class="chip chip-new" href="/jobs?label=env%3Dstaging" title="worst status of its jobs: new">env=staging (1)</a>');
    expect(html).not.toContain("env=secret");
    // A chip in use is marked, and takes its filter off again.
    const filtered = await alicePage.get("/jobs?label=env%3Dprod");
    expect(filtered.html).toContain('<a class="chip chip-failed chip-active" href="/jobs" title="worst status of its jobs: failed" aria-current="true">env=prod (2)</a>');
  });

  test("an htmx request for the results gets them alone, and the status poll the statuses by id, only the tenant's", async () => {
    const { r, html } = await alicePage.get("/jobs?namespace=ops", hx);
    expect(r.status).toBe(200);
    expect(html).toStartWith('<div id="jobs-results">');
    expect(html).not.toContain("<html");
    expect(r.headers.get("hx-push-url")).toBe("/jobs?namespace=ops");
    const report = getJob(s.db, acme, "ops", "report");
    const payroll = getJob(s.db, globex, "ops", "payroll");
    const poll = await alicePage.get(`/jobs/statuses?id=${report.id}&id=${payroll.id}&id=nope`, { "hx-request": "true" });
    expect(poll.html).toBe(`<span id="job-status-${report.id}" hx-swap-oob="true"><span class="status" data-job-status="failed">failed</span></span>`);
  });
});

describe("pausing, resuming and deleting several jobs at once", () => {
  test("ticked jobs pause with an ordinary form post, back to the same filtered list with a message", async () => {
    for (const name of ["job-01", "job-02"]) putJob(s.db, acme, "ticked", name, { schedule: "@hourly" }, Date.now());
    await alicePage.get("/jobs?namespace=ticked");
    const { r } = await alicePage.post("/jobs/bulk", { action: "pause", job: "ticked/job-01", back: "/jobs?namespace=ticked" }, {});
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/jobs?namespace=ticked");
    expect(getJob(s.db, acme, "ticked", "job-01").status).toBe("paused");
    expect(getJob(s.db, acme, "ticked", "job-02").status).toBe("new");
    const after = await alicePage.get("/jobs?namespace=ticked");
    expect(after.html).toContain("Paused 1 job.");
  });

  test("several at once (repeated job fields), and with htmx the results come back in place with the message", async () => {
    // job-01 was paused before; job-04 stays as it is.
    for (const name of ["job-01", "job-02", "job-03", "job-04"]) putJob(s.db, acme, "several", name, { schedule: "@hourly" }, Date.now());
    await alicePage.get("/jobs");
    expect((await alicePage.post("/jobs/bulk", { action: "pause", job: "several/job-01", back: "/jobs" })).r.status).toBe(303);
    const body = new URLSearchParams([
      ["csrf", alicePage.csrf],
      ["action", "pause"],
      ["job", "several/job-02"],
      ["job", "several/job-03"],
      ["job", "ops/payroll"],
      ["back", "/jobs?namespace=several&status=paused"],
    ]);
    const r = await fetch(`${s.url}/jobs/bulk`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: s.url, cookie: [...alicePage.cookies].map(([k, v]) => `${k}=${v}`).join("; "), ...hx },
      body,
    });
    const html = await r.text();
    expect(r.status).toBe(200);
    expect(html).toStartWith('<div id="jobs-results">');
    // ops/payroll is globex's: not found in acme, and untouched.
    expect(html).toContain("Paused 2 jobs. 1 not found.");
    expect(getJob(s.db, globex, "ops", "payroll").status).toBe("new");
    // The list it answers is the one the form came from: the paused jobs of several.
    expect(listed(html)).toEqual(["several/job-01", "several/job-02", "several/job-03"]);
    expect(getJob(s.db, acme, "several", "job-04").status).toBe("new");
    await alicePage.get("/jobs");
    expect((await alicePage.post("/jobs/bulk", { action: "resume", job: "several/job-02", back: "/jobs" })).r.status).toBe(303);
    expect(getJob(s.db, acme, "several", "job-02").status).toBe("new");
  });

  test("deleting asks first: a page listing the jobs, then the confirmed post deletes them", async () => {
    putJob(s.db, acme, "deleting", "job-58", { schedule: "@hourly" }, Date.now());
    await alicePage.get("/jobs");
    const ask = await alicePage.post("/jobs/bulk", { action: "delete", job: "deleting/job-58", back: "/jobs?namespace=deleting" });
    expect(ask.r.status).toBe(200);
    expect(ask.html).toContain("<h1>Delete 1 job?</h1>");
    expect(ask.html).toContain('<input type="hidden" name="job" value="deleting/job-58"/>');
    expect(getJob(s.db, acme, "deleting", "job-58")).toBeTruthy();
    const done = await alicePage.post("/jobs/bulk", { action: "delete", confirmed: "yes", job: "deleting/job-58", back: "/jobs?namespace=deleting" });
    expect(done.r.status).toBe(303);
    expect((await alicePage.get("/jobs/deleting/job-58")).r.status).toBe(404);
  });

  test("without the CSRF token nothing changes; a page from elsewhere cannot go back to another site", async () => {
    putJob(s.db, acme, "guarded", "job-04", { schedule: "@hourly" }, Date.now());
    const { r } = await alicePage.post("/jobs/bulk", { action: "pause", job: "guarded/job-04", back: "/jobs" }, { csrf: null });
    expect(r.status).toBe(403);
    expect(getJob(s.db, acme, "guarded", "job-04").status).toBe("new");
    await alicePage.get("/jobs");
    const away = await alicePage.post("/jobs/bulk", { action: "pause", job: "guarded/job-04", back: "https://evil.example/" });
    expect(away.r.headers.get("location")).toBe("/jobs");
  });

  test("nothing ticked: a message, nothing changes", async () => {
    await alicePage.get("/jobs");
    const { r } = await alicePage.post("/jobs/bulk", { action: "pause", back: "/jobs" });
    expect(r.status).toBe(303);
    expect((await alicePage.get("/jobs")).html).toContain("Tick one or more jobs first.");
  });
});

describe("a job's page", () => {
  test("shows its own status first, since when, the schedule in words and its next runs", async () => {
    const { r, html } = await alicePage.get("/jobs/ops/db-backup");
    expect(r.status).toBe(200);
    expect(statuses(html)[0]).toEqual(["up", "up"]);
    expect(html).toContain("<h1>ops/db-backup</h1>");
    expect(html).toMatch(/since <time datetime="[^"]+" title="[^"]+ UTC">just now<\/time>/);
    expect(html).toContain("<code>*/15 * * * *</code> <span>Every 15 minutes</span>");
    expect([...html.matchAll(/<li><time datetime="[^"]+">(\w{3} \d{4}-\d\d-\d\d \d\d:(00|15|30|45)) \(UTC, \+00:00\)<\/time><\/li>/g)].length).toBe(5);
  });

  test("gives the ping URLs by token and by slug, with snippets for curl, wget, PowerShell, Python, crontab, crontopus exec and runitor", async () => {
    const { html } = await alicePage.get("/jobs/ops/db-backup");
    const url = pingOf["db-backup"]!;
    const key = getTenantSettings(s.db, acme).ping_key;
    expect(html).toContain(`<code id="ping-url" class="url" aria-labelledby="ping-url-label">${url}</code>`);
    expect(html).toContain(`<code id="slug-url" class="url" aria-labelledby="slug-url-label">${s.url}/ping/${key}/ops-db-backup</code>`);
    for (const title of ["curl", "wget", "PowerShell", "Python", "A crontab line", "crontopus exec", "runitor"]) expect(html).toContain(`<summary>${title}</summary>`);
    expect(html).toContain(`curl -fsS -m 10 --retry 5 -o /dev/null ${url}`);
    expect(html).toContain(`*/15 * * * *  crontopus exec --ping-url ${url} -- /opt/backup.sh`);
    expect(html).toContain(`runitor -api-url ${s.url}/ping -ping-key ${key} -slug ops-db-backup -- /opt/backup.sh`);
    // Both URLs really ping the job.
    const before = getJob(s.db, acme, "ops", "db-backup").checkins_total;
    expect((await fetch(`${s.url}/ping/${key}/ops-db-backup`)).status).toBe(200);
    expect(getJob(s.db, acme, "ops", "db-backup").checkins_total).toBe(before + 1);
  });

  test("draws the recent runs as SVG, lists runs with the status changes between them, and shows the latest output", async () => {
    const { html } = await alicePage.get("/jobs/ops/report");
    expect(html).toMatch(/<svg class="status-strip" viewBox="0 0 500 24" role="img" aria-label="The one run: 1 failed.">/);
    expect(html).toContain('<svg class="duration-chart"');
    expect(html).toMatch(/<li class="log-flip"><span class="flip-change"><span class="was was-new">new<\/span> → <span class="was was-failed">failed<\/span><\/span><span class="log-reason">failed: reported failure<\/span>/);
    expect(html).toMatch(/<li class="log-run"><span class="run-word run-failed">failed<\/span><span class="log-detail"><a href="\/runs\/\d+">Run \d+<\/a>/);
    expect(html).toContain("<code>disk full</code>");
    expect(html).toMatch(/<th scope="row">\d{4}-\d\d<\/th><td>0.00 %<\/td>/);
  });

  test("lists the agents it goes to, each with its state", async () => {
    const { token } = createEnrollmentToken(s.db, acme, null, { name: "hosts" }, Date.now());
    enroll(s.db, { token, hostname: "db1.example.com", platform: "linux", arch: "x64", scheduler: "cron", machine_id: "m-db1" }, 30, Date.now());
    const { html } = await alicePage.get("/jobs/ops/db-backup");
    expect(html).toMatch(/<a href="\/agents\/[^"]+">db1<\/a><span class="muted"> db1.example.com<\/span><\/td><td><span class="agent-status agent-online">online<\/span><\/td><td><span class="instance instance-pending">pending<\/span>/);
    // A ping-only job goes to no agent: no agents section at all.
    expect((await alicePage.get("/jobs/ops/report")).html).not.toContain('id="agents-title"');
  });

  test("the status fragment the page polls, and older log entries by cursor", async () => {
    const live = await alicePage.get("/jobs/ops/report/live", { "hx-request": "true" });
    expect(live.html).toStartWith('<section id="job-live"');
    expect(statuses(live.html)).toEqual([["failed", "failed"]]);
    // A job of its own that runs three times (ops/cleanup stays never heard from).
    const { ping_url } = await putApi(alice, "logs", "cleanup", { schedule: "*/15 * * * *" });
    for (let i = 0; i < 3; i++) await fetch(ping_url);
    const { html } = await alicePage.get("/jobs/logs/cleanup/log?cursor=0.0");
    expect(html).toBe("");
    const page = await alicePage.get("/jobs/logs/cleanup");
    expect([...page.html.matchAll(/class="log-run"/g)].length).toBe(3);
  });

  test("pause and resume from the page, with a message; delete asks first", async () => {
    // A job of its own to pause (ops/cleanup keeps its status for the list's tests).
    putJob(s.db, acme, "pausing", "cleanup", { schedule: "*/15 * * * *" }, Date.now());
    const page = await alicePage.get("/jobs/pausing/cleanup");
    expect(page.html).toContain('<form method="post" action="/jobs/pausing/cleanup/pause"');
    const { r } = await alicePage.post("/jobs/pausing/cleanup/pause", {});
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/jobs/pausing/cleanup");
    const paused = await alicePage.get("/jobs/pausing/cleanup");
    expect(statuses(paused.html)[0]).toEqual(["paused", "paused"]);
    expect(paused.html).toContain("Paused pausing/cleanup: its check-ins are kept, nothing alerts.");
    expect((await alicePage.post("/jobs/pausing/cleanup/resume", {})).r.status).toBe(303);
    expect(getJob(s.db, acme, "pausing", "cleanup").paused).toBe(false);

    putJob(s.db, acme, "ops", "doomed", { schedule: "@daily" }, Date.now());
    const ask = await alicePage.get("/jobs/ops/doomed/delete");
    expect(ask.html).toContain("<h1>Delete ops/doomed?</h1>");
    const del = await alicePage.post("/jobs/ops/doomed/delete", {});
    expect(del.r.headers.get("location")).toBe("/jobs");
    expect((await alicePage.get("/jobs/ops/doomed")).r.status).toBe(404);
  });

  test("another tenant's job is a 404 on every page and action, and stays as it was", async () => {
    for (const path of ["/jobs/ops/payroll", "/jobs/ops/payroll/live", "/jobs/ops/payroll/log", "/jobs/ops/payroll/edit", "/jobs/ops/payroll/delete"]) {
      expect(`${path} ${(await alicePage.get(path)).r.status}`).toBe(`${path} 404`);
    }
    await alicePage.get("/jobs");
    for (const path of ["/jobs/ops/payroll/pause", "/jobs/ops/payroll/resume", "/jobs/ops/payroll/delete", "/jobs/ops/payroll/edit"]) {
      expect(`${path} ${(await alicePage.post(path, { schedule: "@hourly" })).r.status}`).toBe(`${path} 404`);
    }
    expect(getJob(s.db, globex, "ops", "payroll")).toMatchObject({ paused: false, schedule: "@daily" });
  });
});

describe("a viewer", () => {
  test("sees the list and the job without a button that would fail for them", async () => {
    const list = await bobPage.get("/jobs");
    expect(list.r.status).toBe(200);
    expect(listed(list.html).length).toBe(50);
    for (const absent of ['name="job"', "/jobs/new", 'value="pause"', "select-all"]) expect(list.html).not.toContain(absent);
    const job = await bobPage.get("/jobs/ops/db-backup");
    expect(statuses(job.html)[0]![0]).toBe("up");
    for (const absent of ["/edit", "/pause", "/resume", "/delete"]) expect(job.html).not.toContain(`/jobs/ops/db-backup${absent}`);
  });

  test("is refused every change, and nothing changes", async () => {
    for (const path of ["/jobs/new", "/jobs/ops/db-backup/edit", "/jobs/ops/db-backup/delete"]) expect(`${path} ${(await bobPage.get(path)).r.status}`).toBe(`${path} 403`);
    await bobPage.get("/jobs");
    for (const [path, form] of [
      ["/jobs/ops/db-backup/pause", {}],
      ["/jobs/ops/db-backup/delete", {}],
      ["/jobs/ops/db-backup/edit", { schedule: "@hourly" }],
      ["/jobs/new", { name: "bobs", schedule: "@daily" }],
      ["/jobs/bulk", { action: "pause", job: "ops/db-backup" }],
    ] as const) {
      expect(`${path} ${(await bobPage.post(path, form)).r.status}`).toBe(`${path} 403`);
    }
    expect(getJob(s.db, acme, "ops", "db-backup")).toMatchObject({ paused: false, schedule: "*/15 * * * *" });
    expect((await bobPage.get("/jobs/default/bobs")).r.status).toBe(404);
  });
});

describe("creating and editing", () => {
  test("a form error from the service stands next to its field, the values kept; then the job is created", async () => {
    await alicePage.get("/jobs/new");
    const bad = await alicePage.post("/jobs/new", { tab: "form", namespace: "etl", name: "nightly", schedule: "0 25 * * *", timezone: "Europe/Berlin", labels: "env=dev" });
    expect(bad.r.status).toBe(422);
    expect(bad.html).toContain('<span class="field-error" id="schedule-error">Hour &quot;25&quot;: 25 is out of range (0-23).</span>');
    expect(bad.html).toMatch(/<input id="schedule" name="schedule" type="text" value="0 25 \* \* \*"[^>]* aria-invalid="true" aria-describedby="schedule-hint schedule-error"/);
    expect(bad.html).toContain('value="nightly"');
    expect(bad.html).toContain(">env=dev</textarea>");
    const good = await alicePage.post("/jobs/new", { tab: "form", namespace: "etl", name: "nightly", schedule: "0 2 * * *", timezone: "Europe/Berlin", grace: "10m", labels: "env=dev\nteam = data", alert_after: "2" });
    expect(good.r.status).toBe(303);
    expect(good.r.headers.get("location")).toBe("/jobs/etl/nightly");
    expect(getJob(s.db, acme, "etl", "nightly")).toMatchObject({ schedule: "0 2 * * *", timezone: "Europe/Berlin", grace_s: 600, labels: { env: "dev", team: "data" }, alert_after: 2, command: null });
    expect((await alicePage.get("/jobs/etl/nightly")).html).toContain("Created etl/nightly.");
  });

  test("every field's error lands on its own field; a taken name on the name", async () => {
    await alicePage.get("/jobs/new");
    const cases: [Record<string, string>, string][] = [
      [{ name: "Bad Name", schedule: "@daily" }, "name"],
      [{ name: "x", namespace: "Nope!", schedule: "@daily" }, "namespace"],
      [{ name: "x", schedule: "@daily", timezone: "Mars/Olympus" }, "timezone"],
      [{ name: "x", schedule: "@daily", grace: "1.5h" }, "grace"],
      [{ name: "x", schedule: "@daily", timeout: "soon" }, "timeout"],
      [{ name: "x", schedule: "@daily", labels: "no equals sign" }, "labels"],
      [{ name: "x", schedule: "@daily", labels: "bad key!=1" }, "labels"],
      [{ name: "x", schedule: "@daily", alert_after: "0" }, "alert_after"],
      [{ name: "x", schedule: "@daily", command: "a\nb" }, "command"],
      [{ name: "db-backup", namespace: "ops", schedule: "@daily" }, "name"],
    ];
    for (const [form, fieldName] of cases) {
      const { r, html } = await alicePage.post("/jobs/new", { tab: "form", ...form });
      expect(`${JSON.stringify(form)} ${r.status}`).toBe(`${JSON.stringify(form)} 422`);
      expect(`${JSON.stringify(form)} ${[...html.matchAll(/id="([a-z_]+)-error"/g)].map((m) => m[1]).join(",")}`).toBe(`${JSON.stringify(form)} ${fieldName}`);
    }
    expect((await alicePage.post("/jobs/new", { tab: "form", name: "db-backup", namespace: "ops", schedule: "@daily" })).html).toContain("A job of this name exists in this namespace already.");
  });

  test("the YAML tab creates a job through the manifest parser, its errors under the text with their path", async () => {
    const tab = await alicePage.get("/jobs/new?tab=yaml");
    expect(tab.html).toContain("apiVersion: crontopus/v1");
    const bad = await alicePage.post("/jobs/new", { tab: "yaml", yaml: "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: from-yaml\nspec:\n  schedule: '@sometimes'\n" });
    expect(bad.r.status).toBe(422);
    expect(bad.html).toMatch(/<span class="field-error" id="yaml-error">Spec.schedule: unknown macro @sometimes;/);
    const good = await alicePage.post("/jobs/new", { tab: "yaml", yaml: "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: from-yaml\n  namespace: etl\nspec:\n  schedule: '@hourly'\n  env:\n    MODE: full\n" });
    expect(good.r.headers.get("location")).toBe("/jobs/etl/from-yaml");
    expect(getJob(s.db, acme, "etl", "from-yaml")).toMatchObject({ schedule: "@hourly", env: { MODE: "full" } });
  });

  test("editing by form changes the fields it shows and keeps the others; by YAML replaces the whole job", async () => {
    // A job of its own, as the YAML tab would make it (etl/from-yaml is the YAML test's).
    putJob(s.db, acme, "etl", "to-edit", { schedule: "@hourly", env: { MODE: "full" } }, Date.now());
    const form = await alicePage.get("/jobs/etl/to-edit/edit");
    expect(form.html).toContain('value="@hourly"');
    expect(form.html).toContain("Every hour");
    const saved = await alicePage.post("/jobs/etl/to-edit/edit", { tab: "form", schedule: "*/30 * * * *", timezone: "UTC", grace: "5m", timeout: "1h", command: "", labels: "tier=2", alert_after: "1" });
    expect(saved.r.headers.get("location")).toBe("/jobs/etl/to-edit");
    expect(getJob(s.db, acme, "etl", "to-edit")).toMatchObject({ schedule: "*/30 * * * *", timeout_s: 3600, labels: { tier: "2" }, env: { MODE: "full" } });

    const yaml = await alicePage.get("/jobs/etl/to-edit/edit?tab=yaml");
    expect(yaml.html).toContain("MODE: full");
    const renamed = await alicePage.post("/jobs/etl/to-edit/edit", { tab: "yaml", yaml: "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: other\n  namespace: etl\nspec:\n  schedule: '@daily'\n" });
    expect(renamed.r.status).toBe(422);
    expect(renamed.html).toContain("Metadata.name: does not match the URL (to-edit)");
    const replaced = await alicePage.post("/jobs/etl/to-edit/edit", { tab: "yaml", yaml: "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: to-edit\n  namespace: etl\nspec:\n  schedule: '@daily'\n" });
    expect(replaced.r.status).toBe(303);
    expect(getJob(s.db, acme, "etl", "to-edit")).toMatchObject({ schedule: "@daily", env: {}, labels: {}, timeout_s: null });
  });

  test("the schedule preview: in words and the next runs in the zone, or what is wrong", async () => {
    const ok = await alicePage.get(`/jobs/preview?schedule=${encodeURIComponent("30 2 * * 1-5")}&timezone=America%2FNew_York`, { "hx-request": "true" });
    expect(ok.html).toStartWith('<div id="schedule-preview"');
    expect(ok.html).toContain("At 02:30, Monday through Friday (America/New_York)");
    expect([...ok.html.matchAll(/ 02:30 \(America\/New_York, -0[45]:00\)/g)].length).toBe(5);
    const bad = await alicePage.get(`/jobs/preview?schedule=${encodeURIComponent("* * *")}&timezone=UTC`);
    expect(bad.html).toContain('<p class="preview-error">Schedule: expected 5 fields (minute hour day-of-month month day-of-week), got 3</p>');
    const zone = await alicePage.get("/jobs/preview?schedule=%40daily&timezone=Mars%2FOlympus");
    expect(zone.html).toContain("Timezone: unknown time zone");
  });
});

describe("escaping", () => {
  test("markup in a label, a command, a run's output and a refused name shows as text", async () => {
    const xss = "<img src=x onerror=alert(1)>";
    const { ping_url } = await putApi(alice, "escaping", "xss", { schedule: "@daily", labels: { note: xss }, command: `echo '${xss}'` });
    await fetch(ping_url, { method: "POST", body: `<script>alert(1)</script>${xss}` });
    // Markup in a quoted attribute value (an input's value) is text too: only the quote could end it.
    const outsideAttributes = (html: string) => html.replace(/="[^"]*"/g, '=""');
    for (const path of ["/jobs/escaping/xss", "/jobs?namespace=escaping", "/jobs/escaping/xss/edit", "/jobs/escaping/xss/edit?tab=yaml"]) {
      const { html } = await alicePage.get(path);
      expect(outsideAttributes(html)).not.toContain("<img src=x");
      expect(html).not.toContain("<script>alert");
      expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    }
    expect((await alicePage.get("/jobs/escaping/xss")).html).toContain("<code>&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</code>");
    await alicePage.get("/jobs/new");
    const { html } = await alicePage.post("/jobs/new", { tab: "form", name: `x"${xss}`, schedule: "@daily" });
    expect(outsideAttributes(html)).not.toContain("<img src=x");
    expect(html).toContain('value="x&#34;<img src=x onerror=alert(1)>"');
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });
});
