// The runs pages over HTTP: alice's acme runs a backup (whose output carries an XSS payload, and
// once an output too long to keep), a report that fails and a deploy in the web namespace; bob is
// a viewer in acme; charlie's globex has a run of its own. Filters stay in the URL, pages follow
// cursors, a run shows its facts and its output escaped, the output downloads as a file, and
// charlie's run is nobody else's business. The timeline draws a bar per run, each a link to it.
// The tests run in any order: those that need many runs make them on a job of their own (dana's, in
// initech, for paging), so acme's list still shows the fixture's runs on its first page.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PASSWORD, persona, startTestServer, type Persona, type TestServer } from "../helpers";
import { FormClient } from "./client";

const XSS = `<script>alert("pwned")</script><img src=x onerror=alert(1)>`;
const H = 3_600_000;

let s: TestServer;
let alice: Persona;
let charlie: Persona;
let browser: FormClient;
let viewer: FormClient;

interface ApiRun {
  id: number;
  job: string;
  status: string;
  output?: string | null;
}

async function checkin(who: Persona, body: Record<string, unknown>) {
  const r = await s.api("/api/v1/checkins", { method: "POST", token: who.token, json: body });
  expect(r.status).toBe(200);
}

async function runsOf(who: Persona, query = ""): Promise<ApiRun[]> {
  const r = await s.api(`/api/v1/runs?limit=500&output=true${query}`, { token: who.token });
  return ((await r.json()) as { runs: ApiRun[] }).runs;
}

/** The run ids a runs page links to, in order. */
const runLinks = (html: string) => [...html.matchAll(/<a class="run-link" href="\/runs\/(\d+)"/g)].map((m) => Number(m[1]));

beforeAll(async () => {
  s = await startTestServer({ CRONTOPUS_PING_BODY_LIMIT: "2000" });
  alice = await persona(s.db, "alice", "acme", "owner");
  await persona(s.db, "bob", "acme", "viewer");
  charlie = await persona(s.db, "charlie", "globex", "owner");
  for (const [ns, name, labels] of [["ops", "db-backup", {}], ["ops", "report", {}], ["web", "deploy", { team: "web" }]] as const) {
    const r = await s.api(`/api/v1/jobs/${ns}/${name}`, { method: "PUT", token: alice.token, json: { schedule: "@hourly", labels } });
    expect(r.status).toBe(201);
  }
  await s.api("/api/v1/jobs/ops/secret-sync", { method: "PUT", token: charlie.token, json: { schedule: "@hourly" } });
  const now = Date.now();
  // Three hours ago: outside the last hour, inside the last 24.
  await checkin(alice, { job: "ops/report", kind: "fail", exit_code: 2, at: now - 3 * H, output: "disk full" });
  await checkin(alice, { job: "web/deploy", kind: "success", started_at: now - 2 * H, duration_ms: 10 * 60_000, host: "web-1" });
  await checkin(alice, { job: "ops/db-backup", kind: "success", started_at: now - 30 * 60_000, duration_ms: 4_000, output: `dumping\n${XSS}\n${"a very long line ".repeat(40)}\ndone`, host: "db-1" });
  await checkin(alice, { job: "ops/db-backup", kind: "fail", exit_code: 1, output: `BEGIN\n${"x".repeat(5000)}\nthe end` });
  await checkin(charlie, { job: "ops/secret-sync", kind: "success", output: "globex secrets" });
  browser = new FormClient(s.url);
  await browser.login(alice.email, PASSWORD);
  viewer = new FormClient(s.url);
  await viewer.login("bob@example.com", PASSWORD);
});
afterAll(() => s.close());

describe("/runs", () => {
  test("lists the tenant's runs newest first, each a link to its run, and none of another tenant's", async () => {
    const { r, html } = await browser.get("/runs");
    expect(r.status).toBe(200);
    expect(runLinks(html)).toEqual((await runsOf(alice)).map((run) => run.id));
    expect(html).toContain("ops/db-backup");
    expect(html).toContain("web-1");
    expect(html).not.toContain("secret-sync");
    // A viewer reads them too.
    expect(runLinks((await viewer.get("/runs")).html)).toEqual(runLinks(html));
  });

  test("filters by job, namespace, status and time window, and the page keeps them in its form", async () => {
    const all = await runsOf(alice);
    const ids = (pred: (run: ApiRun) => boolean) => all.filter(pred).map((run) => run.id);
    const report = await browser.get("/runs?job=ops%2Freport");
    expect(runLinks(report.html)).toEqual(ids((run) => run.job === "ops/report"));
    expect(report.html).toMatch(/<input[^>]* name="job"[^>]* value="ops\/report"/);
    expect(runLinks((await browser.get("/runs?namespace=web")).html)).toEqual(ids((run) => run.job.startsWith("web/")));
    const failed = await browser.get("/runs?status=failed");
    expect(runLinks(failed.html)).toEqual(ids((run) => run.status === "failed"));
    expect(failed.html).toContain('<option value="failed" selected>');
    // The report failed three hours ago: in the last 24 hours, not in the last hour.
    expect(runLinks((await browser.get("/runs?window=24h&status=failed")).html)).toEqual(ids((run) => run.status === "failed"));
    expect(runLinks((await browser.get("/runs?window=1h&status=failed")).html)).toEqual(ids((run) => run.status === "failed" && run.job !== "ops/report"));
    const none = await browser.get("/runs?namespace=web&status=failed");
    expect(none.r.status).toBe(200);
    expect(runLinks(none.html)).toEqual([]);
    expect(none.html).toContain("No runs match.");
  });

  test("a filter it cannot apply is named next to its field", async () => {
    const unknown = await browser.get("/runs?job=ops%2Fno-such-job");
    expect(unknown.r.status).toBe(422);
    expect(unknown.html).toMatch(/<span class="field-error" id="job-error">No job of that name/);
    expect(unknown.html).toMatch(/<input[^>]* name="job"[^>]* aria-invalid="true"/);
    // Another tenant's job is no job of this one.
    expect((await browser.get("/runs?job=ops%2Fsecret-sync")).r.status).toBe(422);
    const status = await browser.get("/runs?status=exploded");
    expect(status.r.status).toBe(422);
    expect(status.html).toMatch(/<span class="field-error" id="status-error">Must be one of running, success, failed, timeout\.<\/span>/);
    expect((await browser.get("/runs?window=forever")).html).toContain('id="window-error"');
    expect((await browser.get("/runs?cursor=not-a-cursor")).r.status).toBe(400);
  });

  test("pages follow the cursor: Older runs leads on without gaps or repeats, Newest leads back", async () => {
    // Dana's report in a tenant of her own runs 61 times (alice's runs stay as the other tests read them).
    const dana = await persona(s.db, "dana", "initech", "owner");
    const danaPage = new FormClient(s.url);
    await danaPage.login(dana.email, PASSWORD);
    const put = await s.api("/api/v1/jobs/ops/report", { method: "PUT", token: dana.token, json: { schedule: "@hourly" } });
    expect(put.status).toBe(201);
    const pings = (await put.json()) as { ping_url: string };
    for (let i = 0; i < 61; i++) await fetch(pings.ping_url);
    const all = (await runsOf(dana, "&job=ops/report")).map((run) => run.id);
    expect(all.length).toBeGreaterThan(60);
    const seen: number[] = [];
    let path = "/runs?job=ops%2Freport";
    for (let pages = 0; pages < 10; pages++) {
      const { html } = await danaPage.get(path);
      seen.push(...runLinks(html));
      const older = /<a href="([^"]+)" rel="next">Older runs<\/a>/.exec(html)?.[1];
      if (!older) break;
      path = older.replaceAll("&amp;", "&");
      expect(path).toStartWith("/runs?job=ops%2Freport&cursor=");
      expect((await danaPage.get(path)).html).toContain('<a href="/runs?job=ops%2Freport">Newest</a>');
    }
    expect(seen).toEqual(all);
    // A full page of 50 runs, with the console's script and styles, loads in under 150 KB.
    const { html } = await danaPage.get("/runs?job=ops%2Freport");
    expect(runLinks(html)).toHaveLength(50);
    let bytes = Buffer.byteLength(html);
    for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) bytes += (await (await fetch(s.url + m[1], { headers: { "accept-encoding": "identity" } })).arrayBuffer()).byteLength;
    expect(bytes).toBeLessThan(150 * 1024);
  });
});

describe("/runs/<id>", () => {
  test("shows the run's status, times, duration, exit code and source, and its output escaped", async () => {
    const backup = (await runsOf(alice)).find((run) => run.job === "ops/db-backup" && run.status === "success")!;
    const { r, html } = await browser.get(`/runs/${backup.id}`);
    expect(r.status).toBe(200);
    expect(html).toContain(`<h1>Run #${backup.id}</h1>`);
    expect(html).toContain('data-run-status="success"');
    expect(html).toMatch(/<dt>Started<\/dt>\s*<dd><span class="since"><time datetime="[^"]+" data-local="datetime">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<\/time>/);
    expect(html).toContain("<dt>Duration</dt><dd><span>4 s</span></dd>");
    expect(html).toContain("<dt>Exit code</dt><dd>0</dd>");
    expect(html).toContain("api (alice@example.com) on db-1");
    expect(html).toContain('<pre class="output" tabindex="0" aria-label="Output">');
    expect(html).toContain("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;");
    expect(html).not.toContain(XSS);
    expect(html).not.toContain("<script>alert");
    expect(html).toContain(`href="/runs/${backup.id}/output"`);
  });

  test("marks where a long output was cut to its head and its tail", async () => {
    const cut = (await runsOf(alice)).find((run) => run.job === "ops/db-backup" && run.status === "failed")!;
    expect(cut.output).toContain("bytes cut");
    const { html } = await browser.get(`/runs/${cut.id}`);
    expect(html).toMatch(/<span>BEGIN\nx+<\/span><span class="cut" role="separator">… [\d,]+ bytes cut: the output kept is its head and its tail …<\/span><span>x+\nthe end<\/span>/);
    expect(html).toContain("<dt>Exit code</dt><dd>1</dd>");
  });

  test("downloads the raw output as a text/plain attachment", async () => {
    const backup = (await runsOf(alice)).find((run) => run.job === "ops/db-backup" && run.status === "success")!;
    const { r, html } = await browser.get(`/runs/${backup.id}/output`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(r.headers.get("content-disposition")).toBe(`attachment; filename="ops-db-backup-run-${backup.id}.txt"`);
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(html).toBe(backup.output!);
  });

  test("another tenant's run is not found, nor is its output; neither is a run that does not exist", async () => {
    const theirs = (await runsOf(charlie))[0]!;
    for (const path of [`/runs/${theirs.id}`, `/runs/${theirs.id}/output`, "/runs/999999", "/runs/abc", "/runs/abc/output"]) {
      const { r, html } = await browser.get(path);
      expect(`${path} ${r.status}`).toBe(`${path} 404`);
      expect(html).not.toContain("globex secrets");
    }
    expect((await new FormClient(s.url).get(`/runs/${theirs.id}/output`)).r.status).toBe(303);
  });
});

describe("/timeline", () => {
  /** Run ids of the bars in the row of `job`. */
  function bars(html: string, job: string): number[] {
    const row = html.split('<li class="tl-row">').find((r) => r.includes(`>${job}</a>`));
    if (!row) return [];
    return [...row.matchAll(/<a href="\/runs\/(\d+)"/g)].map((m) => Number(m[1]));
  }

  test("draws a bar per run of the last 24 hours, a row per job, each bar a link to its run", async () => {
    // A heartbeat of its own ran more than a row holds, once a minute for the last 31 minutes (in the
    // past: a run of the very millisecond the page is drawn at would fall after the window's end).
    const put = await s.api("/api/v1/jobs/ops/heartbeat", { method: "PUT", token: alice.token, json: { schedule: "@every 1m" } });
    expect(put.status).toBe(201);
    const now = Date.now();
    for (let i = 31; i > 0; i--) await checkin(alice, { job: "ops/heartbeat", kind: "success", at: now - i * 60_000 });
    const { r, html } = await browser.get("/timeline");
    expect(r.status).toBe(200);
    const all = await runsOf(alice);
    for (const job of ["ops/db-backup", "ops/report", "web/deploy"]) expect(bars(html, job).sort()).toEqual(all.filter((run) => run.job === job).map((run) => run.id).sort());
    // The heartbeat ran more than a row holds: its newest 30 are drawn, and the row says so.
    const heartbeat = all.filter((run) => run.job === "ops/heartbeat");
    expect(heartbeat.length).toBeGreaterThan(30);
    expect(bars(html, "ops/heartbeat").sort()).toEqual(heartbeat.slice(0, 30).map((run) => run.id).sort());
    expect(html).toContain("Only the newest 30 runs are drawn: earlier ones, before ");
    expect(html).toContain('data-job-status="');
    expect(html).not.toContain("secret-sync");
    // The report's failure three hours ago is not in the last hour.
    const hour = await browser.get("/timeline?window=1h");
    expect(bars(hour.html, "web/deploy")).toEqual([]);
    expect(bars(hour.html, "ops/db-backup")).toHaveLength(2);
    expect(hour.html).toContain('<option value="1h" selected>');
  });

  test("filters by namespace and by label; a label it cannot read is named next to its field", async () => {
    const web = await browser.get("/timeline?namespace=web");
    expect(web.html).toContain(">web/deploy</a>");
    expect(web.html).not.toContain(">ops/db-backup</a>");
    const team = await browser.get("/timeline?label=team%3Dweb");
    expect(team.html).toContain(">web/deploy</a>");
    expect(team.html).not.toContain(">ops/report</a>");
    const bad = await browser.get("/timeline?label=%3Dweb");
    expect(bad.r.status).toBe(422);
    expect(bad.html).toContain('id="label-error"');
  });

  test("moves the window back and forth in time", async () => {
    const { html } = await browser.get("/timeline?window=1h");
    const earlier = /<a href="([^"]+)">← Earlier<\/a>/.exec(html)![1]!.replaceAll("&amp;", "&");
    expect(decodeURIComponent(earlier)).toMatch(/^\/timeline\?window=1h&end=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // One to two hours ago: the deploy ran then (from two hours ago, for ten minutes), the backups had not.
    const before = await browser.get(earlier);
    expect(before.r.status).toBe(200);
    expect(bars(before.html, "web/deploy")).toHaveLength(1);
    expect(bars(before.html, "ops/db-backup")).toEqual([]);
    const later = /<a href="([^"]+)">Later →<\/a>/.exec(before.html)![1]!.replaceAll("&amp;", "&");
    expect(later).toBe("/timeline?window=1h");
    expect((await browser.get("/timeline?end=yesterday")).r.status).toBe(422);
  });
});
