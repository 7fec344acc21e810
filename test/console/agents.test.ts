// The agents pages over HTTP, without a browser. Alice owns acme, mia is a member there and bob a
// viewer; gina owns globex, whose host acme must never see. Acme's hosts enroll and report through
// the real agent protocol: web1 runs the rotation (applied) and the sitemap (drifted) and found
// three lines of its own in root's crontab; db1 has the backup waiting; batch-old stopped sending
// heartbeats; a host with a hostile name and label. Alice reads the list and the pages, adopts a
// line (a wrong name first), renames and relabels, adds an agent whose install command really
// enrolls, and deletes one; mia adopts and edits but adds and deletes nothing; bob only reads.
// The tests run in any order: those that adopt, rename, add or delete enroll a host of their own
// for it, and those that list acme's agents expect the hosts the others enrolled too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getJob } from "../../src/jobs/jobs";
import { findTenant } from "../../src/tenants/tenants";
import { findAgent, listAgents } from "../../src/agents/registry";
import { createEnrollmentToken, enroll } from "../../src/agents/enrollment";
import { PASSWORD, persona, startTestServer, TestClock, type Persona, type TestServer } from "../helpers";
import { until } from "../receiver";
import { FormClient } from "./client";
import { desiredJobs, enrollHost, line, reportPass, type Host } from "./hosts";

const MIN = 60_000;
const clock = new TestClock();
const XSS = "<img src=x onerror=alert(1)>";
/** The lines web1 found in its crontabs (and a host of the adoption test found too). */
const FOUND = [
  line("a1b2c3d4e5f6", "0 5 * * *", "/usr/local/bin/report --pct 50\\%"),
  line("0f0f0f0f0f0f", "@reboot", "/usr/local/bin/warm-up"),
  line("dddddddddddd", "15 4 * * *", `echo '${XSS}' > /tmp/x`, null),
];
let s: TestServer;
let alice: Persona;
let acme = "";
let globex = "";
let web1: Host;
let db1: Host;
let old: Host;
let evil: Host;
let theirs: Host;
let alicePage: FormClient;
let miaPage: FormClient;
let bobPage: FormClient;

async function enrollmentToken(who: Persona, body: Record<string, unknown> = {}): Promise<string> {
  const r = await s.api("/api/v1/enrollment-tokens", { method: "POST", token: who.token, json: { name: "hosts", ...body } });
  expect(r.status).toBe(201);
  return ((await r.json()) as { token: string }).token;
}

async function putJob(who: Persona, ref: string, body: Record<string, unknown>) {
  const r = await s.api(`/api/v1/jobs/${ref}`, { method: "PUT", token: who.token, json: { schedule: "@every 1h", ...body } });
  expect(r.status).toBeLessThan(300);
}

beforeAll(async () => {
  s = await startTestServer({ CRONTOPUS_TICK_MS: "20" }, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "mia", "acme", "member");
  await persona(s.db, "bob", "acme", "viewer");
  const gina = await persona(s.db, "gina", "globex", "owner");
  acme = findTenant(s.db, "acme")!.id;
  globex = findTenant(s.db, "globex")!.id;

  await putJob(alice, "ops/rotate", { command: "/usr/sbin/logrotate /etc/logrotate.conf", agent: { selector: { role: "web" } } });
  await putJob(alice, "web/sitemap", { command: "/opt/sitemap.sh", agent: { selector: { hostname: "web1.acme.test" } } });
  await putJob(alice, "ops/db-backup", { command: "/opt/backup.sh", agent: { selector: { role: "db" } } });
  await putJob(gina, "ops/payroll", { command: "/opt/payroll.sh", agent: { selector: { role: "web" } } });

  // batch-old enrolled ten minutes ago and was not heard from since: offline at the engine's next tick.
  old = await enrollHost(s, await enrollmentToken(alice), "batch-old.acme.test", { platform: "darwin", arch: "arm64", os_version: "macOS 15.1" });
  clock.advance(10 * MIN);
  const token = await enrollmentToken(alice, { labels: { role: "web" } });
  web1 = await enrollHost(s, token, "web1.acme.test");
  db1 = await enrollHost(s, await enrollmentToken(alice, { labels: { role: "db" } }), "db1.acme.test");
  evil = await enrollHost(s, await enrollmentToken(alice), XSS.replaceAll(" ", "/"), { name: "evil", labels: { note: XSS }, version: XSS.slice(0, 30) });
  theirs = await enrollHost(s, await enrollmentToken(gina, { labels: { role: "web" } }), "gx1.globex.test");
  await reportPass(s, web1, { "ops/rotate": { state: "applied", message: "added" }, "web/sitemap": { state: "drifted", message: "its lines were edited by hand; restored" } }, FOUND);
  await reportPass(s, theirs, { "ops/payroll": { state: "applied" } }, [line("9999aaaabbbb", "0 1 * * *", "/opt/theirs.sh")]);
  await until(() => findAgent(s.db, acme, old.id).status === "offline");

  alicePage = new FormClient(s.url);
  await alicePage.login(alice.email, PASSWORD);
  miaPage = new FormClient(s.url);
  await miaPage.login("mia@example.com", PASSWORD);
  bobPage = new FormClient(s.url);
  await bobPage.login("bob@example.com", PASSWORD);
});
afterAll(() => s.close());

/**
 * Acme's agent names as they stand now, in name order (sorted here, not by the query the page
 * uses): the fixture's hosts, and those that other tests of this file enrolled before this one.
 */
function acmeAgents(fixtures: string[], status?: "online" | "offline"): string[] {
  const names = listAgents(s.db, acme)
    .filter((a) => !status || a.status === status)
    .map((a) => a.name)
    .sort();
  expect(names).toEqual(expect.arrayContaining(fixtures));
  return names;
}
/** The agent links of the list, in order. */
const listed = (html: string) => [...html.matchAll(/<td class="agent-name card-head"><a href="\/agents\/([^"]+)">([^<]*)<\/a>/g)].map((m) => m[2]);
/** The list's row of one agent. */
function rowOf(html: string, id: string): string {
  const start = html.indexOf(`<a href="/agents/${id}">`);
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf("</tr>", start));
}
/** The part of a page in the element with this id. */
function section(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf("</section>", start));
}
const agentStatus = (status: string) => `<span class="status agent-status" data-agent-status="${status}">${status}</span>`;
const state = (st: string) => `<span class="status instance-state" data-instance-state="${st}">${st}</span>`;

describe("the agents list", () => {
  test("lists every agent of the tenant with its status, platform, version, last heartbeat, jobs and drift; none of another tenant's", async () => {
    const { r, html } = await alicePage.get("/agents");
    expect(r.status).toBe(200);
    expect(listed(html)).toEqual(acmeAgents(["batch-old", "db1", "evil", "web1"]));
    expect(html).not.toContain("gx1");
    expect(html).toContain('<div id="agents-table" hx-get="/agents/live" hx-trigger="live"');
    const web = rowOf(html, web1.id);
    expect(web).toContain(`${agentStatus("online")}<span class="muted since-line">since <time`);
    expect(web).toContain("<span>linux/x64</span><span class=\"muted\">Debian 12</span>");
    expect(web).toContain('<td data-label="Version">0.1.0</td>');
    expect(web).toMatch(/<td data-label="Last heartbeat"><time datetime="[^"]+" title="[^"]+ UTC">just now<\/time><\/td>/);
    // Two jobs go to web1: one applied, one drifted (restored by the agent), which the Drift column counts.
    expect(web).toContain('<td class="agent-jobs" data-label="Jobs"><span class="count">2</span><span class="muted instances">1 applied</span></td>');
    expect(web).toContain('<span class="status instance-state" data-instance-state="drifted">1 drifted</span>');
    expect(web).toContain('<span class="chip">role=web</span>');
    const db = rowOf(html, db1.id);
    expect(db).toContain('<span class="count">1</span><span class="muted instances">1 pending</span>');
    expect(db).toContain('<span class="muted">none</span>');
    const batch = rowOf(html, old.id);
    expect(batch).toContain(agentStatus("offline"));
    expect(batch).toContain("<span>darwin/arm64</span>");
    expect(batch).toMatch(/<td data-label="Last heartbeat"><time datetime="[^"]+" title="[^"]+">10 min ago<\/time><\/td>/);
  });

  test("filters by status in the URL; a status that does not exist is refused", async () => {
    expect(listed((await alicePage.get("/agents?status=offline")).html)).toEqual(["batch-old"]);
    const online = await alicePage.get("/agents?status=online");
    expect(listed(online.html)).toEqual(acmeAgents(["db1", "evil", "web1"], "online"));
    expect(online.html).toContain('<a href="/agents?status=online" aria-current="page">Online</a>');
    const bad = await alicePage.get("/agents?status=asleep");
    expect(bad.r.status).toBe(422);
    expect(bad.html).toContain("Status: must be one of online, offline.");
  });

  test("a tenant without agents leads to Add an agent, for those who may add one", async () => {
    const empty = await persona(s.db, "olga", "initech", "owner");
    const olga = new FormClient(s.url);
    await olga.login(empty.email, PASSWORD);
    const { html } = await olga.get("/agents");
    expect(html).toContain("No agents yet.");
    expect(html).toContain('<a class="button" href="/agents/new">Add an agent</a>');
    expect((await olga.get("/agents?status=offline")).html).toContain("No agent is offline.");
  });

  test("the dashboard's agents offline link to their page", async () => {
    const offline = section((await alicePage.get("/")).html, "agents-offline");
    expect(offline).toContain(`${agentStatus("offline")}<a href="/agents/${old.id}">batch-old</a>`);
    const page = await alicePage.get(`/agents/${old.id}`);
    expect(page.r.status).toBe(200);
    expect(page.html).toContain("<h1>batch-old</h1>");
  });
});

describe("an agent's page", () => {
  test("shows its state, its job instances with the job's current status, its labels; by id or by name", async () => {
    for (const ref of [web1.id, "web1"]) {
      const { r, html } = await alicePage.get(`/agents/${ref}`);
      expect(r.status).toBe(200);
      expect(html).toContain("<h1>web1</h1>");
      const live = section(html, "agent-state");
      expect(live).toContain(`${agentStatus("online")}<span>since <time`);
      const jobs = section(html, "agent-jobs");
      expect(jobs).toContain(
        `<a href="/jobs/ops/rotate">ops/rotate</a></td><td data-label="Job status"><span class="status" data-job-status="new">new</span></td><td data-label="On this host">${state("applied")}<span class="log-reason">added</span>`,
      );
      expect(jobs).toContain(`<a href="/jobs/web/sitemap">web/sitemap</a></td><td data-label="Job status"><span class="status" data-job-status="new">new</span></td><td data-label="On this host">${state("drifted")}`);
      expect(jobs).toContain("its lines were edited by hand; restored");
      expect(html).toContain('<span class="chip">role=web</span>');
      expect(html).toContain("<dd>crontab</dd>");
    }
    // db1's backup is pending until its agent reports.
    expect(section((await alicePage.get(`/agents/${db1.id}`)).html, "agent-jobs")).toContain(`<a href="/jobs/ops/db-backup">ops/db-backup</a></td><td data-label="Job status"><span class="status" data-job-status="new">new</span></td><td data-label="On this host">${state("pending")}`);
  });

  test("lists the unmanaged lines it found, each with an Adopt form, or why it cannot be adopted", async () => {
    const found = section((await alicePage.get(`/agents/${web1.id}`)).html, "agent-discovered");
    expect(found).toContain("Unmanaged entries (3)");
    expect(found).toContain("<code>0 5 * * * /usr/local/bin/report --pct 50\\%</code>");
    expect(found).toContain(`<form method="post" action="/agents/${web1.id}/discovered/a1b2c3d4e5f6/adopt"`);
    expect(found).toContain('<label for="adopt-1-name">Job name</label>');
    // @reboot has no schedule to monitor: no form, the reason instead.
    expect(found).not.toContain("/discovered/0f0f0f0f0f0f/adopt");
    expect(found).toContain("Cannot be adopted: an @reboot entry has no schedule Crontopus can monitor; leave it unmanaged.");
  });

  test("adopting a line: an error stands next to its field, the values kept; then the job is made, aimed at the host, and its page opens", async () => {
    // web2 found the same lines as web1, and adopts one (web1's stay unadopted for the other tests).
    const web2 = await enrollHost(s, await enrollmentToken(alice), "web2.acme.test");
    await reportPass(s, web2, {}, FOUND);
    await alicePage.get(`/agents/${web2.id}`);
    const path = `/agents/${web2.id}/discovered/a1b2c3d4e5f6/adopt`;
    const bad = await alicePage.post(path, { namespace: "ops", name: "Legacy Report", timezone: "Europe/Berlin" });
    expect(bad.r.status).toBe(422);
    // The second line found (the lines are listed as the agent reported them, by id).
    expect(bad.html).toMatch(/<span class="field-error" id="adopt-1-name-error">Must be 1-63 lower-case letters, digits or &quot;-&quot;.* \(got &quot;Legacy Report&quot;\)\.<\/span>/);
    expect(bad.html).toMatch(/<input id="adopt-1-name" name="name" type="text" value="Legacy Report"[^>]* aria-invalid="true" aria-describedby="adopt-1-name-hint adopt-1-name-error"/);
    expect(bad.html).toContain('value="Europe/Berlin"');
    const zone = await alicePage.post(path, { namespace: "ops", name: "legacy-report", timezone: "Mars/Olympus" });
    expect(zone.html).toContain('id="adopt-1-timezone-error"');
    const taken = await alicePage.post(path, { namespace: "ops", name: "rotate" });
    expect(taken.r.status).toBe(409);
    expect(taken.html).toContain('<span class="field-error" id="adopt-1-name-error">A job of this name exists in this namespace already.</span>');

    const good = await alicePage.post(path, { namespace: "ops", name: "legacy-report", timezone: "Europe/Berlin" });
    expect(good.r.status).toBe(303);
    expect(good.r.headers.get("location")).toBe("/jobs/ops/legacy-report");
    expect(getJob(s.db, acme, "ops", "legacy-report")).toMatchObject({ schedule: "0 5 * * *", timezone: "Europe/Berlin", command: "/usr/local/bin/report --pct 50%", user: "root", agent_selector: { hostname: "web2.acme.test" } });
    const job = await alicePage.get("/jobs/ops/legacy-report");
    expect(job.html).toContain("Adopted as ops/legacy-report: the agent swaps the line for the managed entry on its next pass.");
    // The agent is told to swap the line, and the page says it was adopted.
    expect((await desiredJobs(s, web2))["ops/legacy-report"]!.adopted_from).toEqual(["a1b2c3d4e5f6"]);
    const after = section((await alicePage.get(`/agents/${web2.id}`)).html, "agent-discovered");
    expect(after).toContain('Adopted as <a href="/jobs/ops/legacy-report">ops/legacy-report</a>: the agent swaps the line on its next pass.');
    expect(after).not.toContain("/discovered/a1b2c3d4e5f6/adopt");
    // Sent again (an old tab): said above the form, nothing made twice.
    const again = await alicePage.post(path, { namespace: "ops", name: "legacy-report-2" });
    expect(again.r.status).toBe(409);
    expect(again.html).toContain("This entry was adopted already.");
    expect((await alicePage.get("/jobs/ops/legacy-report-2")).r.status).toBe(404);
  });

  test("rename and relabel by form: errors next to their field, then saved", async () => {
    const db2 = await enrollHost(s, await enrollmentToken(alice, { labels: { role: "db" } }), "db2.acme.test");
    const form = await alicePage.get(`/agents/${db2.id}/edit`);
    expect(form.html).toContain('value="db2"');
    expect(form.html).toContain(">role=db</textarea>");
    const taken = await alicePage.post(`/agents/${db2.id}/edit`, { name: "web1", labels: "role=db", interval_s: "30" });
    expect(taken.r.status).toBe(422);
    expect(taken.html).toContain('<span class="field-error" id="name-error">An agent of this name exists in this tenant already.</span>');
    const badLabel = await alicePage.post(`/agents/${db2.id}/edit`, { name: "db2", labels: "bad key!=1", interval_s: "30" });
    expect(badLabel.html).toMatch(/<span class="field-error" id="labels-error">bad key!: is not a valid label key/);
    const badInterval = await alicePage.post(`/agents/${db2.id}/edit`, { name: "db2", labels: "role=db", interval_s: "0" });
    expect(badInterval.html).toContain('id="interval_s-error">Must be a whole number of seconds from 1 to 86400.</span>');
    const saved = await alicePage.post(`/agents/${db2.id}/edit`, { name: "db-2", labels: "role=db\nrack = r2", interval_s: "60" });
    expect(saved.r.status).toBe(303);
    expect(saved.r.headers.get("location")).toBe(`/agents/${db2.id}`);
    expect(findAgent(s.db, acme, db2.id)).toMatchObject({ name: "db-2", labels: { role: "db", rack: "r2" }, interval_s: 60 });
    expect((await alicePage.get(`/agents/${db2.id}`)).html).toContain("Saved db-2.");
  });

  test("delete asks first, then forgets the agent and revokes its token", async () => {
    const doomed = await enrollHost(s, await enrollmentToken(alice), "doomed.acme.test");
    const ask = await alicePage.get(`/agents/${doomed.id}/delete`);
    expect(ask.html).toContain("<h1>Delete doomed?</h1>");
    const done = await alicePage.post(`/agents/${doomed.id}/delete`, {});
    expect(done.r.status).toBe(303);
    expect(done.r.headers.get("location")).toBe("/agents");
    expect((await alicePage.get("/agents")).html).toContain("Deleted doomed: its token is revoked.");
    expect((await alicePage.get(`/agents/${doomed.id}`)).r.status).toBe(404);
    expect((await s.api("/api/v1/agent/heartbeat", { method: "POST", token: doomed.token, json: {} })).status).toBe(401);
  });
});

describe("adding an agent", () => {
  test("makes an enrollment token and shows, once, the install commands, whose token really enrolls a host", async () => {
    const form = await alicePage.get("/agents/new");
    expect(form.r.status).toBe(200);
    expect(form.html).toContain('<label for="name">What it is for</label>');
    const bad = await alicePage.post("/agents/new", { name: "batch hosts", labels: "role=batch", max_uses: "0", expires_in_days: "7" });
    expect(bad.r.status).toBe(422);
    expect(bad.html).toContain('<span class="field-error" id="max_uses-error">Must be a whole number of at least 1.</span>');
    expect(bad.html).toContain('value="batch hosts"');
    const { r, html } = await alicePage.post("/agents/new", { name: "batch hosts", labels: "role=batch", max_uses: "2", expires_in_days: "7" });
    expect(r.status).toBe(201);
    expect(r.headers.get("cache-control")).toBe("no-store");
    const sh = /<pre id="install-sh"><code>([^<]+)<\/code><\/pre>/.exec(html)![1]!;
    const ps1 = /<pre id="install-ps1"><code>([^<]+)<\/code><\/pre>/.exec(html)![1]!.replaceAll("&quot;", '"').replaceAll("&amp;", "&");
    const token = /--token (cte_[A-Za-z0-9_-]+)$/.exec(sh)![1]!;
    expect(sh).toBe(`curl -fsSL ${s.url}/install.sh | sh -s -- --token ${token}`);
    expect(ps1).toBe(`iex "& { $(irm ${s.url}/install.ps1) } -Token ${token}"`);
    expect(html).toContain('data-copy="#install-sh"');
    expect(html).toContain('<span class="chip">role=batch</span>');
    // The token enrolls a host through the real API, which gets the token's labels.
    const r2 = await s.api("/api/v1/agent/enroll", { method: "POST", json: { token, hostname: "batch-1.acme.test", platform: "linux", arch: "x64", scheduler: "crontab", machine_id: "m-batch-1" } });
    expect(r2.status).toBe(201);
    expect(((await r2.json()) as { agent: { labels: Record<string, string> } }).agent.labels).toEqual({ role: "batch" });
    // Shown on that answer only: never on the list or the form again.
    for (const path of ["/agents", "/agents/new", "/agents/batch-1"]) expect((await alicePage.get(path)).html).not.toContain(token);
  });
});

describe("who sees what", () => {
  test("a viewer sees the list and the pages without a button or form that would fail for them", async () => {
    const list = await bobPage.get("/agents");
    expect(listed(list.html).length).toBeGreaterThan(3);
    expect(list.html).not.toContain("/agents/new");
    const page = await bobPage.get(`/agents/${web1.id}`);
    expect(page.r.status).toBe(200);
    expect(section(page.html, "agent-jobs")).toContain(state("applied"));
    for (const absent of ["/adopt", "/edit", "/delete", 'method="post" action="/agents']) expect(page.html).not.toContain(absent);
    expect(section(page.html, "agent-discovered")).toContain("echo &#x27;&lt;img src=x");
  });

  test("a viewer is refused every change, and nothing changes", async () => {
    for (const path of ["/agents/new", `/agents/${web1.id}/edit`, `/agents/${web1.id}/delete`]) expect(`${path} ${(await bobPage.get(path)).r.status}`).toBe(`${path} 403`);
    await bobPage.get("/agents");
    for (const [path, form] of [
      ["/agents/new", { name: "bobs" }],
      [`/agents/${web1.id}/edit`, { name: "bobs-web", labels: "", interval_s: "30" }],
      [`/agents/${web1.id}/delete`, {}],
      [`/agents/${web1.id}/discovered/dddddddddddd/adopt`, { name: "bobs-job" }],
    ] as const) {
      expect(`${path} ${(await bobPage.post(path, form)).r.status}`).toBe(`${path} 403`);
    }
    expect(findAgent(s.db, acme, web1.id).name).toBe("web1");
    expect((await bobPage.get("/jobs/default/bobs-job")).r.status).toBe(404);
  });

  test("a member adopts and edits, and neither adds nor deletes agents", async () => {
    const page = await miaPage.get(`/agents/${web1.id}`);
    expect(page.html).toContain(`action="/agents/${web1.id}/discovered/dddddddddddd/adopt"`);
    expect(page.html).toContain(`href="/agents/${web1.id}/edit"`);
    expect(page.html).not.toContain(`/agents/${web1.id}/delete`);
    expect((await miaPage.get("/agents")).html).not.toContain("/agents/new");
    expect((await miaPage.get("/agents/new")).r.status).toBe(403);
    expect((await miaPage.post(`/agents/${web1.id}/delete`, {})).r.status).toBe(403);
    expect(findAgent(s.db, acme, web1.id).name).toBe("web1");
  });

  test("another tenant's agent is a 404 on every page and action, and stays as it was", async () => {
    for (const ref of [theirs.id, "gx1"]) {
      for (const path of [`/agents/${ref}`, `/agents/${ref}/edit`, `/agents/${ref}/delete`]) expect(`${path} ${(await alicePage.get(path)).r.status}`).toBe(`${path} 404`);
      await alicePage.get("/agents");
      for (const [path, form] of [
        [`/agents/${ref}/edit`, { name: "mine", labels: "", interval_s: "30" }],
        [`/agents/${ref}/delete`, {}],
        [`/agents/${ref}/discovered/9999aaaabbbb/adopt`, { name: "stolen" }],
      ] as const) {
        expect(`${path} ${(await alicePage.post(path, form)).r.status}`).toBe(`${path} 404`);
      }
    }
    expect(findAgent(s.db, globex, theirs.id)).toMatchObject({ name: "gx1" });
    expect((await alicePage.get("/jobs/default/stolen")).r.status).toBe(404);
  });

  test("without the CSRF token nothing changes", async () => {
    const posts: [string, Record<string, string>][] = [
      ["/agents/new", { name: "sneaky" }],
      [`/agents/${web1.id}/edit`, { name: "sneaky", labels: "", interval_s: "30" }],
      [`/agents/${web1.id}/discovered/dddddddddddd/adopt`, { name: "sneaky" }],
      [`/agents/${evil.id}/delete`, {}],
    ];
    for (const [path, form] of posts) {
      const { r, html } = await alicePage.post(path, form, { csrf: null });
      expect(`${path} ${r.status}`).toBe(`${path} 403`);
      expect(html).toContain("Form expired");
    }
    expect(findAgent(s.db, acme, web1.id).name).toBe("web1");
    expect(findAgent(s.db, acme, evil.id).name).toBe("evil");
    expect((await alicePage.get("/jobs/default/sneaky")).r.status).toBe(404);
  });
});

describe("escaping", () => {
  test("markup in a host name, a label, a version and a discovered command shows as text", async () => {
    // Markup in a quoted attribute value is text too: only the quote could end it.
    const outsideAttributes = (html: string) => html.replace(/="[^"]*"/g, '=""');
    for (const path of ["/agents", `/agents/${evil.id}`, `/agents/${web1.id}`, `/agents/${evil.id}/edit`]) {
      const { html } = await alicePage.get(path);
      expect(`${path} ${/<img[ /]src=x/.test(outsideAttributes(html))}`).toBe(`${path} false`);
    }
    const page = (await alicePage.get(`/agents/${evil.id}`)).html;
    expect(page).toContain("<dd>&lt;img/src=x/onerror=alert(1)&gt;</dd>");
    expect(page).toContain('<span class="chip">note=&lt;img src=x onerror=alert(1)&gt;</span>');
    const list = (await alicePage.get("/agents")).html;
    expect(rowOf(list, evil.id)).toContain('<span class="muted">&lt;img/src=x/onerror=alert(1)&gt;</span>');
    expect(section((await alicePage.get(`/agents/${web1.id}`)).html, "agent-discovered")).toContain("<code>15 4 * * * echo &#x27;&lt;img src=x onerror=alert(1)&gt;&#x27; &gt; /tmp/x</code>");
  });
});

describe("a big fleet", () => {
  test("the list comes 50 agents a page, and each agents page's first load (HTML, CSS and script) stays under 150 KB uncompressed", async () => {
    // Pam's bigco has 60 hosts (enrolled at the service: the enroll API allows 30 a minute from one address).
    const pam = await persona(s.db, "pam", "bigco", "owner");
    const bigco = findTenant(s.db, "bigco")!.id;
    const { token } = createEnrollmentToken(s.db, bigco, null, { name: "fleet", labels: { role: "web", env: "production", rack: "rack-12-east" } }, clock.now());
    const pamPage = new FormClient(s.url);
    await pamPage.login(pam.email, PASSWORD);
    const hosts: Host[] = [];
    for (let i = 0; i < 60; i++) {
      const n = String(i).padStart(2, "0");
      const { agent, token: agentToken } = enroll(s.db, { token, hostname: `web-${n}.eu-central-1.bigco.example.com`, platform: "linux", arch: "x64", os_version: "Ubuntu 24.04.1 LTS", scheduler: "crontab", version: "0.1.0", machine_id: `m-${n}` }, 30, clock.now());
      hosts.push({ id: agent.id, name: agent.name, token: agentToken });
    }
    // web-00 found 40 lines of its own: its page shows the first 25, and all of them on request.
    const lines = Array.from({ length: 40 }, (_, i) => line(`e${String(i).padStart(11, "0")}`, `${i} 3 * * *`, `/opt/legacy/nightly-task-${i} --with --some --options`));
    await reportPass(s, hosts[0]!, {}, lines);
    const crowded = await pamPage.get(`/agents/${hosts[0]!.id}`);
    expect([...crowded.html.matchAll(/<form method="post" action="[^"]+\/adopt"/g)].length).toBe(25);
    expect(crowded.html).toContain(`15 more entries not shown. </span><a href="/agents/${hosts[0]!.id}?all=1">Show all</a>`);
    expect([...(await pamPage.get(`/agents/${hosts[0]!.id}?all=1`)).html.matchAll(/<form method="post" action="[^"]+\/adopt"/g)].length).toBe(40);
    // An error on an entry further down still comes back next to its field.
    const bad = await pamPage.post(`/agents/${hosts[0]!.id}/discovered/${lines[30]!.id}/adopt`, { name: "Nightly 30" });
    expect(bad.r.status).toBe(422);
    expect(bad.html).toContain('id="adopt-30-name-error"');
    const first = await pamPage.get("/agents");
    expect(listed(first.html).length).toBe(50);
    expect(first.html).toContain('<a href="/agents?after=web-49" rel="next">Next page</a>');
    const second = await pamPage.get("/agents?after=web-49");
    expect(listed(second.html)).toEqual(Array.from({ length: 10 }, (_, i) => `web-${50 + i}`));
    expect(second.html).not.toContain('rel="next"');
    expect(second.html).toContain('<a href="/agents">First page</a>');

    const assets = new Map<string, number>();
    const weigh = async (html: string) => {
      let bytes = Buffer.byteLength(html);
      for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
        if (!assets.has(m[1]!)) assets.set(m[1]!, (await (await fetch(s.url + m[1], { headers: { "accept-encoding": "identity" } })).arrayBuffer()).byteLength);
        bytes += assets.get(m[1]!)!;
      }
      return bytes;
    };
    expect(await weigh(first.html)).toBeLessThan(150 * 1024);
    expect(await weigh(crowded.html)).toBeLessThan(150 * 1024);
    for (const path of [`/agents/${web1.id}`, "/agents/new", `/agents/${web1.id}/edit`]) {
      expect(`${path} ${(await weigh((await alicePage.get(path)).html)) < 150 * 1024}`).toBe(`${path} true`);
    }
    await alicePage.get("/agents/new");
    expect(await weigh((await alicePage.post("/agents/new", { name: "weighed" })).html)).toBeLessThan(150 * 1024);
  });
});

describe("the agents pages' live parts", () => {
  /** The element of `html` that starts with `open`, to its closing tag `close`. */
  const part = (html: string, open: string, close: string) => {
    const start = html.indexOf(open);
    expect(start).toBeGreaterThanOrEqual(0);
    return html.slice(start, html.indexOf(close, start) + close.length);
  };
  test("answer the part alone, as the page shows it, with the list's filter; another tenant's agent is a 404", async () => {
    const list = await alicePage.get("/agents/live?status=online");
    expect(list.r.status).toBe(200);
    expect(list.html.startsWith('<div id="agents-table" hx-get="/agents/live?status=online"')).toBe(true);
    expect(listed(list.html)).toEqual(listed((await alicePage.get("/agents?status=online")).html));
    expect(listed(list.html)).not.toContain("batch-old");
    const page = (await bobPage.get(`/agents/${web1.id}`)).html;
    const st = await bobPage.get(`/agents/${web1.id}/state`);
    expect(st.r.status).toBe(200);
    expect(st.html).toBe(part(page, '<section id="agent-state"', "</section>"));
    const jobs = await bobPage.get(`/agents/${web1.id}/jobs`);
    expect(jobs.r.status).toBe(200);
    expect(jobs.html).toBe(part(page, '<section id="agent-jobs"', "</section>"));
    for (const path of [`/agents/${theirs.id}/state`, `/agents/${theirs.id}/jobs`]) expect((await alicePage.get(path)).r.status).toBe(404);
  });
});
