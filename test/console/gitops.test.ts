// The GitOps page over HTTP, without a browser, against real bare repositories (file://, allowed by
// CRONTOPUS_ALLOW_PRIVATE_TARGETS=true). Each story has a tenant of its own: its owner connects a
// repository in the form (field errors first), syncs now and sees the state, the commit, the jobs
// and the history; a broken manifest shows with its path, line and column; a removed file leaves an
// orphan; the plan of the head comes as its own fragment; a git-managed job's page offers no Edit
// or Delete (Pause stays), unless write-back is on; the dashboard carries a banner while the sync
// fails; the viewer reads without secrets and is refused every change; every form needs its token;
// a hostile commit message is text; the page stays under its weight budget.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getJob, findJob } from "../../src/jobs/jobs";
import { gitopsStatus, listSyncs } from "../../src/gitops/sync";
import { readWebhookSecret } from "../../src/gitops/settings";
import { PASSWORD, startTestServer, type TestServer } from "../helpers";
import { FormClient } from "./client";
import { BROKEN, connectApi, manifest, settled, story, type Story } from "./gitops-kit";

let s: TestServer;
const repos: Story[] = [];

beforeAll(async () => {
  s = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
});
afterAll(async () => {
  await s.close();
  for (const r of repos) r.repo.close();
});

/** A story's tenant, its owner signed in (and its viewer, when asked). */
async function newStory(slug: string, opts: { viewer?: boolean } = {}) {
  const st = await story(s, slug, opts);
  repos.push(st);
  const owner = new FormClient(s.url);
  await owner.login(st.owner.email, PASSWORD);
  const viewer = new FormClient(s.url);
  if (st.viewer) await viewer.login(st.viewer.email, PASSWORD);
  return { st, owner, viewer };
}

/** The text of some HTML, its entities decoded. */
const text = (html: string) => html.replaceAll("&quot;", '"').replaceAll("&#x27;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
const errorUnder = (html: string, id: string) => {
  const m = new RegExp(`id="${id}-error">([^<]*)<`).exec(html);
  return m ? text(m[1]!) : null;
};
const main = (html: string) => /<main[\s\S]*<\/main>/.exec(html)![0];
/** The markup outside attribute values (where a tag could start). */
const markup = (html: string) => html.replace(/="[^"]*"/g, '=""');
const hx = { "hx-request": "true" };

describe("connecting", () => {
  test("the GitOps tab sits beside the other settings; the owner connects in the form after field errors, and the viewer sees no form", async () => {
    const { st, owner, viewer } = await newStory("conn", { viewer: true });
    st.repo.commit("jobs", { "ops/backup.yaml": manifest("backup") });
    let { r, html } = await owner.get("/settings/gitops");
    expect(r.status).toBe(200);
    expect(html).toContain('<a href="/settings/gitops" aria-current="page">GitOps</a>');
    expect(html).toContain('<a href="/settings/members">Members</a>');
    expect(html).toContain("Connect the repository");
    expect((await viewer.get("/settings/gitops")).html).toContain("No repository is connected.");
    expect((await viewer.get("/settings/gitops")).html).not.toContain('name="url"');

    // A URL that is no remote, an interval too short, a token for a file:// remote: each under its field, what was typed kept.
    ({ r, html } = await owner.post("/settings/gitops", { url: "ftp://example.com/x.git", branch: "main", path: "", interval: "60s" }));
    expect(r.status).toBe(422);
    expect(errorUnder(html, "url")).toMatch(/^Must be an https:\/\/ or ssh remote/);
    expect(html).toContain('value="ftp://example.com/x.git"');
    ({ r, html } = await owner.post("/settings/gitops", { url: st.repo.url, branch: "main", path: "", interval: "5s" }));
    expect(errorUnder(html, "interval")).toBe("Must be at least 10s.");
    ({ r, html } = await owner.post("/settings/gitops", { url: st.repo.url, branch: "main", path: "", interval: "60s", token: "ghp_secret" }));
    expect(errorUnder(html, "token")).toMatch(/^Is for https remotes/);
    expect(html).not.toContain("ghp_secret");

    ({ r } = await owner.post("/settings/gitops", { url: st.repo.url, branch: "main", path: "ops", interval: "2m", prune: "on" }));
    expect([r.status, r.headers.get("location")]).toEqual([303, "/settings/gitops"]);
    ({ html } = await owner.get("/settings/gitops"));
    expect(html).toContain("Repository connected.");
    expect(html).toContain(`value="${st.repo.url}"`);
    expect(html).toContain('id="path" name="path" type="text" value="ops"');
    expect(html).toContain('value="2m"');
    expect(html).toMatch(/id="prune" name="prune" value="on" checked/);
    expect(html).toContain("Save settings");
    expect(html).toContain('action="/settings/gitops/deploy-key"');
    // The webhook URL and secret to copy, and the steps of each forge.
    const api = await (await s.api("/api/v1/gitops", { token: st.owner.token })).json();
    expect(html).toContain(`<code id="webhook-url" class="url" aria-labelledby="webhook-url-label">${api.webhook_url}</code>`);
    expect(html).toContain(`<code id="webhook-secret" class="url" aria-labelledby="webhook-secret-label">${api.webhook_secret}</code>`);
    for (const forge of ["<summary>GitHub</summary>", "<summary>Gitea and Forgejo</summary>", "<summary>GitLab</summary>", "Just the push event", "Secret token"]) expect(html).toContain(forge);
    expect(api).toMatchObject({ url: st.repo.url, path: "ops", interval: "2m", prune: true, write_back: false });

    // The viewer: the settings as facts, the webhook URL, no secret, no form, no Sync now, no deploy key.
    const v = (await viewer.get("/settings/gitops")).html;
    expect(v).toContain(`<code>${st.repo.url}</code>`);
    expect(v).toContain(api.webhook_url);
    expect(v).not.toContain(api.webhook_secret);
    expect(v).not.toContain('name="url"');
    expect(v).not.toContain("Sync now");
    expect(v).not.toContain("data-deploy-key");
    expect(v).not.toContain("Disconnect…");
    expect(v).toContain("Owners and admins see the secret.");
  });

  test("a token is kept when the field is left empty, replaced by a new one, removed by its box; it is never shown", async () => {
    const { st, owner } = await newStory("tok");
    const url = "https://github.com/acme/jobs.git";
    await owner.get("/settings/gitops");
    expect((await owner.post("/settings/gitops", { url, branch: "main", path: "", interval: "60s", token: "ghp_first" })).r.status).toBe(303);
    let html = (await owner.get("/settings/gitops")).html;
    expect(html).toContain("A token is stored (it is never shown).");
    expect(html).not.toContain("ghp_first");
    expect(html).toContain("Remove the stored token");
    expect((await owner.post("/settings/gitops", { url, branch: "main", path: "", interval: "60s", token: "" })).r.status).toBe(303);
    expect((await (await s.api("/api/v1/gitops", { token: st.owner.token })).json()).has_token).toBe(true);
    expect((await owner.post("/settings/gitops", { url, branch: "main", path: "", interval: "60s", remove_token: "on" })).r.status).toBe(303);
    expect((await (await s.api("/api/v1/gitops", { token: st.owner.token })).json()).has_token).toBe(false);
    html = (await owner.get("/settings/gitops")).html;
    expect(html).not.toContain("Remove the stored token");
  });
});

describe("syncing", () => {
  test("Sync now applies the commit: the state ok, the commit, the jobs and a row of history; without the script it answers 303 with the result", async () => {
    const { st, owner, viewer } = await newStory("sync", { viewer: true });
    const first = st.repo.commit("two jobs", { "ops/backup.yaml": manifest("backup"), "ops/report.yaml": manifest("report") });
    await connectApi(s, st);
    const second = st.repo.commit("a third", { "ops/cleanup.yaml": manifest("cleanup", "@hourly") });
    // A viewer may not sync (the write scope); nothing runs.
    const before = listSyncs(s.db, st.tenantId).syncs.length;
    await viewer.get("/settings/gitops");
    const refused = await viewer.post("/settings/gitops/sync", {});
    expect(refused.r.status).toBe(403);
    expect(refused.html).toContain("Not allowed");
    expect(listSyncs(s.db, st.tenantId).syncs.length).toBe(before);

    await owner.get("/settings/gitops");
    const { r } = await owner.post("/settings/gitops/sync", {});
    expect([r.status, r.headers.get("location")]).toEqual([303, "/settings/gitops"]);
    const html = (await owner.get("/settings/gitops")).html;
    expect(html).toContain(`Synced ${second.slice(0, 12)}: ok.`);
    expect(html).toContain('data-gitops-state="ok"');
    expect(html).toContain(`<code title="${second}">${second.slice(0, 12)}</code>`);
    expect(text(html)).toContain("1 created, 2 unchanged");
    const history = /<section id="gitops-history"[\s\S]*?<\/section>/.exec(html)![0];
    expect(history).toContain(">a third<");
    expect(history).toContain(">two jobs<");
    expect(history).toContain(first.slice(0, 12));
    expect(history).toContain("manual");
    expect(history).toContain("periodic");
    expect(findJob(s.db, st.tenantId, "ops", "cleanup")?.source?.commit).toBe(second);
  });

  test("with htmx, Sync now answers the status with the result in place, and the history and the plan as out-of-band swaps", async () => {
    const { st, owner } = await newStory("hx");
    st.repo.commit("one", { "a.yaml": manifest("a") });
    await connectApi(s, st);
    const head = st.repo.commit("two", { "b.yaml": manifest("b") });
    await owner.get("/settings/gitops");
    const { r, html } = await owner.post("/settings/gitops/sync", {}, { headers: hx });
    expect(r.status).toBe(200);
    expect(html.startsWith('<section id="gitops-status"')).toBe(true);
    expect(html).toContain(`Synced ${head.slice(0, 12)}: ok. 1 created, 1 unchanged.`);
    expect(html).toMatch(/<section id="gitops-history"[^>]*hx-swap-oob="true"/);
    expect(html).toMatch(/<section id="gitops-plan"[^>]*hx-get="\/settings\/gitops\/plan"[^>]*hx-trigger="load"[^>]*hx-swap-oob="true"/);
    expect(html).not.toContain("<html");
  });

  test("a broken manifest among good ones: degraded, the error with path:line:column and its message, plain text for a file:// remote; the rest applied", async () => {
    const { st, owner } = await newStory("broken");
    st.repo.commit("good", { "staging/report.yaml": manifest("report") });
    await connectApi(s, st);
    st.repo.commit("break", { "staging/broken.yaml": BROKEN, "staging/other.yaml": manifest("other") });
    await owner.get("/settings/gitops");
    await owner.post("/settings/gitops/sync", {});
    const html = (await owner.get("/settings/gitops")).html;
    expect(html).toContain('data-gitops-state="degraded"');
    expect(html).toContain("Errors (1)");
    expect(html).toContain('<code class="file-ref">staging/broken.yaml:6:3</code>');
    expect(text(html)).toMatch(/staging\/broken\.yaml:6:3<\/code> <span class="log-reason">[^<]*schedule/);
    expect(findJob(s.db, st.tenantId, "staging", "other")).not.toBeNull();
    expect(gitopsStatus(s.db, st.tenantId).last_good_commit).not.toBe(gitopsStatus(s.db, st.tenantId).commit);
  });

  test("a file removed with prune off leaves an orphan, listed with a link to its job", async () => {
    const { st, owner } = await newStory("orph");
    st.repo.commit("two", { "ops/keep.yaml": manifest("keep"), "ops/gone.yaml": manifest("gone") });
    await connectApi(s, st);
    st.repo.commit("drop one", { "ops/gone.yaml": null });
    await owner.get("/settings/gitops");
    await owner.post("/settings/gitops/sync", {});
    const html = (await owner.get("/settings/gitops")).html;
    expect(html).toContain("Orphans (1)");
    expect(html).toContain('<a href="/jobs/ops/gone">ops/gone</a>');
    expect(html).toContain("<code>ops/gone.yaml</code>");
    expect(findJob(s.db, st.tenantId, "ops", "gone")).not.toBeNull();
  });

  test("the prune guard's stop offers to go ahead for that commit, which then deletes", async () => {
    const { st, owner } = await newStory("guard");
    st.repo.commit("two", { "ops/a.yaml": manifest("a"), "ops/b.yaml": manifest("b") });
    await connectApi(s, st, { prune: true });
    const head = st.repo.commit("move away", { "ops/a.yaml": null, "ops/b.yaml": null, "other/c.yaml": manifest("c", "@daily", { namespace: "other" }) });
    await owner.get("/settings/gitops");
    const { html } = await owner.post("/settings/gitops/sync", {}, { headers: hx });
    expect(html).toContain('data-gitops-state="failing"');
    expect(html).toContain(`<input type="hidden" name="confirm_prune" value="${head}"/>`);
    expect(html).toContain(`Sync ${head.slice(0, 12)} anyway, deleting 2 jobs`);
    expect(findJob(s.db, st.tenantId, "ops", "a")).not.toBeNull();
    const { r } = await owner.post("/settings/gitops/sync", { confirm_prune: head });
    expect(r.status).toBe(303);
    expect(findJob(s.db, st.tenantId, "ops", "a")).toBeNull();
    expect(findJob(s.db, st.tenantId, "other", "c")).not.toBeNull();
  });

  test("the plan of the branch head is its own fragment (what htmx loads after the page), or rendered in the page with ?plan=1", async () => {
    const { st, owner } = await newStory("plan");
    st.repo.commit("one", { "ops/a.yaml": manifest("a") });
    await connectApi(s, st);
    const head = st.repo.commit("plan this", { "ops/a.yaml": manifest("a", "@hourly"), "ops/new.yaml": manifest("new"), "ops/broken.yaml": BROKEN, "README.md": "# jobs", ".github/workflows/ci.yml": "on: push\n" });
    const page = (await owner.get("/settings/gitops")).html;
    expect(page).toContain('hx-get="/settings/gitops/plan" hx-trigger="load"');
    const { r, html } = await owner.get("/settings/gitops/plan", hx);
    expect(r.status).toBe(200);
    expect(html.startsWith('<section id="gitops-plan"')).toBe(true);
    expect(text(html)).toContain(`would do: 1 to create, 1 to update, 0 to adopt, 0 to delete; 0 unchanged.`);
    expect(html).toContain('<li class="plan-item plan-create">');
    expect(html).toContain("<strong>ops/new</strong>");
    expect(text(html)).toContain('<code>schedule</code>: <code>"@daily"</code> → <code>"@hourly"</code>');
    expect(html).toContain('<code class="file-ref">ops/broken.yaml:6:3</code>');
    expect(html).toContain("1 file skipped (not Crontopus manifests)");
    expect(html).toContain(head.slice(0, 12));
    // Nothing applied by asking.
    expect(getJob(s.db, st.tenantId, "ops", "a").schedule).toBe("@daily");
    const inline = (await owner.get("/settings/gitops?plan=1")).html;
    expect(inline).toContain('<li class="plan-item plan-create">');
    expect(inline).not.toContain('hx-trigger="load"');
  });

  test("a remote that cannot be fetched: the plan says why, the sync is failing with git's words", async () => {
    const { st, owner } = await newStory("gone");
    st.repo.commit("one", { "a.yaml": manifest("a") });
    await connectApi(s, st);
    st.repo.close();
    const plan = (await owner.get("/settings/gitops/plan", hx)).html;
    expect(plan).toContain("Could not fetch the branch:");
    await owner.get("/settings/gitops");
    const html = (await owner.post("/settings/gitops/sync", {}, { headers: hx })).html;
    expect(html).toContain('data-gitops-state="failing"');
    expect(html).toContain('class="gitops-message"');
  });

  test("the history pages by 20: Older syncs loads the next ones in place, or opens ?syncs=<cursor>", async () => {
    const { st, owner } = await newStory("hist");
    st.repo.commit("c0", { "a.yaml": manifest("a") });
    await connectApi(s, st);
    for (let i = 1; i <= 21; i++) {
      st.repo.commit(`c${i}`, { "a.yaml": manifest("a", i % 2 ? "@hourly" : "@daily") });
      expect((await s.ctx.gitops.sync(st.tenantId, "manual")).state).toBe("ok");
    }
    const html = (await owner.get("/settings/gitops")).html;
    const history = /<section id="gitops-history"[\s\S]*?<\/section>/.exec(html)![0];
    expect(history.match(/<li class="sync-entry">/g)!.length).toBe(20);
    expect(history).toContain(">c21<");
    expect(history).not.toContain(">c1<");
    const cursor = /hx-get="\/settings\/gitops\/syncs\?cursor=(\d+)"/.exec(history)![1]!;
    expect(history).toContain(`href="/settings/gitops?syncs=${cursor}#gitops-history"`);
    const more = (await owner.get(`/settings/gitops/syncs?cursor=${cursor}`, hx)).html;
    expect(more.match(/<li class="sync-entry">/g)!.length).toBe(2);
    expect(more).toContain(">c1<");
    expect(more).toContain(">c0<");
    expect(more).not.toContain("Older syncs");
    const older = (await owner.get(`/settings/gitops?syncs=${cursor}`)).html;
    expect(older).toContain('<a href="/settings/gitops#gitops-history">Newest first</a>');
    expect((await owner.get("/settings/gitops/syncs?cursor=abc")).r.status).toBe(400);
  });
});

describe("git-managed jobs", () => {
  test("a job's page shows its source and offers no Edit or Delete, Pause and Resume stay; the edit and delete pages answer 409", async () => {
    const { st, owner, viewer } = await newStory("job", { viewer: true });
    const commit = st.repo.commit("one", { "ops/backup.yaml": manifest("backup"), "ops/other.yaml": manifest("other") });
    await connectApi(s, st);
    let html = (await owner.get("/jobs/ops/backup")).html;
    const head = /<div class="page-head">[\s\S]*?<\/div>\s*<section id="job-source"/.exec(html)![0];
    expect(head).not.toContain("/jobs/ops/backup/edit");
    expect(head).not.toContain("/jobs/ops/backup/delete");
    expect(head).toContain('action="/jobs/ops/backup/pause"');
    expect(text(head)).toContain("Managed by Git: change it in the");
    const source = /<section id="job-source"[\s\S]*?<\/section>/.exec(html)![0];
    expect(source).toContain(`<code>${st.repo.url}</code>`);
    expect(source).toContain('<code class="file-ref">ops/backup.yaml</code>');
    expect(source).toContain(`<code title="${commit}">${commit.slice(0, 12)}</code>`);
    expect(main(html)).not.toContain("/jobs/ops/backup/edit");

    for (const path of ["/jobs/ops/backup/edit", "/jobs/ops/backup/edit?tab=yaml", "/jobs/ops/backup/delete"]) {
      const { r, html: refused } = await owner.get(path);
      expect(`${path} ${r.status}`).toBe(`${path} 409`);
      expect(refused).toContain("Managed by Git");
    }
    expect((await owner.post("/jobs/ops/backup/edit", { tab: "form", schedule: "@hourly" })).r.status).toBe(409);
    expect((await owner.post("/jobs/ops/backup/delete", {})).r.status).toBe(409);
    expect(getJob(s.db, st.tenantId, "ops", "backup").schedule).toBe("@daily");

    // Pause stays allowed: a runtime override, shown as such.
    expect((await owner.post("/jobs/ops/backup/pause", {})).r.status).toBe(303);
    html = (await owner.get("/jobs/ops/backup")).html;
    expect(html).toContain("Paused here: a runtime override, which a sync does not undo.");
    expect(html).toContain('action="/jobs/ops/backup/resume"');

    // Bulk delete leaves it, and says so.
    await owner.get("/jobs?namespace=ops");
    const { html: bulk } = await owner.post("/jobs/bulk", { action: "delete", confirmed: "yes", job: ["ops/other"], back: "/jobs?namespace=ops" }, { headers: { ...hx, "hx-target": "jobs-results" } });
    expect(text(bulk)).toContain("Deleted 0 jobs. 1 managed by Git, left as it is: change it in the repository.");
    expect(findJob(s.db, st.tenantId, "ops", "other")).not.toBeNull();

    // The viewer sees the source too, and no control.
    const v = (await viewer.get("/jobs/ops/backup")).html;
    expect(v).toContain('<section id="job-source"');
    expect(v).not.toContain('action="/jobs/ops/backup/resume"');
  });

  test("with write-back on, Edit stays (the service decides what an edit of a git-managed job does)", async () => {
    const { st, owner } = await newStory("wb");
    st.repo.commit("one", { "ops/backup.yaml": manifest("backup") });
    await connectApi(s, st, { write_back: true });
    const html = (await owner.get("/jobs/ops/backup")).html;
    expect(html).toContain('href="/jobs/ops/backup/edit"');
    expect(html).toContain("Edits here are committed to the repository and pushed (write back)");
    expect((await owner.get("/jobs/ops/backup/edit")).r.status).toBe(200);
  });

  test("a job that is not from Git keeps Edit and Delete, and has no source", async () => {
    const { st, owner } = await newStory("plain");
    expect((await s.api("/api/v1/jobs/ops/hand", { method: "PUT", token: st.owner.token, json: { schedule: "@daily" } })).status).toBe(201);
    const html = (await owner.get("/jobs/ops/hand")).html;
    expect(html).toContain('href="/jobs/ops/hand/edit"');
    expect(html).toContain('href="/jobs/ops/hand/delete"');
    expect(html).not.toContain('id="job-source"');
  });
});

describe("the dashboard", () => {
  test("carries a banner linking to the GitOps page while the sync fails or is degraded, and none when it is ok", async () => {
    const { st, owner } = await newStory("dash");
    st.repo.commit("one", { "a.yaml": manifest("a") });
    await connectApi(s, st);
    expect((await owner.get("/")).html).not.toContain("gitops-banner");
    st.repo.forcePushOrphan("oops, everything gone", {});
    expect((await s.ctx.gitops.sync(st.tenantId, "manual")).state).toBe("failing");
    let html = (await owner.get("/")).html;
    expect(html).toContain('<div class="gitops-banner" data-gitops-state="failing">');
    expect(html).toContain('<a href="/settings/gitops">See the sync</a>');
    expect(text(html)).toContain("The GitOps sync is failing: nothing from the repository could be applied (the tree of");
    // The live part's answer carries it too.
    expect((await owner.get("/dashboard/live", hx)).html).toContain("gitops-banner");
    st.repo.commit("back, one broken", { "a.yaml": manifest("a"), "b.yaml": BROKEN });
    expect((await s.ctx.gitops.sync(st.tenantId, "manual")).state).toBe("degraded");
    html = (await owner.get("/")).html;
    expect(text(html)).toContain("The GitOps sync is degraded: 1 file has an error, whose jobs were kept as they were.");
    st.repo.commit("fixed", { "b.yaml": null });
    expect((await s.ctx.gitops.sync(st.tenantId, "manual")).state).toBe("ok");
    expect((await owner.get("/")).html).not.toContain("gitops-banner");
  });
});

describe("who may do what", () => {
  test("the viewer is refused every change (403 pages), another tenant sees nothing of it, and nothing changed", async () => {
    const { st, owner, viewer } = await newStory("roles", { viewer: true });
    const { owner: other } = await newStory("rival");
    st.repo.commit("one", { "a.yaml": manifest("a") });
    await connectApi(s, st);
    const secret = readWebhookSecret(s.db, s.ctx.secrets, st.tenantId);
    await viewer.get("/settings/gitops");
    for (const [path, form] of [
      ["/settings/gitops", { url: "file:///tmp/x.git" }],
      ["/settings/gitops/webhook-secret", {}],
      ["/settings/gitops/deploy-key", {}],
      ["/settings/gitops/disconnect", {}],
      ["/settings/gitops/sync", {}],
    ] as const) {
      const { r, html } = await viewer.post(path, form);
      expect(`${path} ${r.status} ${html.includes("Not allowed")}`).toBe(`${path} 403 true`);
    }
    expect((await viewer.get("/settings/gitops/disconnect")).r.status).toBe(403);
    expect(readWebhookSecret(s.db, s.ctx.secrets, st.tenantId)).toBe(secret);
    // The rival tenant's owner sees its own (unconnected) page and never this one's URL or secret.
    const rival = (await other.get("/settings/gitops")).html;
    expect(rival).toContain("Connect the repository");
    expect(rival).not.toContain(secret);
    expect(rival).not.toContain(st.repo.url);
    expect((await other.get("/settings/gitops/plan")).r.status).toBe(404);
    expect((await other.get("/settings/gitops/syncs")).r.status).toBe(404);
    // The owner's page is still connected.
    expect((await owner.get("/settings/gitops")).html).toContain(secret);
  });

  test("every form needs the CSRF token and a same-origin request: without either, 403 and nothing happens", async () => {
    const { st, owner } = await newStory("csrf");
    st.repo.commit("one", { "a.yaml": manifest("a") });
    await owner.get("/settings/gitops");
    expect((await owner.post("/settings/gitops", { url: st.repo.url }, { csrf: null })).r.status).toBe(403);
    expect((await owner.post("/settings/gitops", { url: st.repo.url }, { headers: { origin: "https://evil.example" } })).r.status).toBe(403);
    expect((await s.api("/api/v1/gitops", { token: st.owner.token })).status).toBe(404);
    await connectApi(s, st);
    const syncs = listSyncs(s.db, st.tenantId).syncs.length;
    const secret = readWebhookSecret(s.db, s.ctx.secrets, st.tenantId);
    for (const path of ["/settings/gitops/sync", "/settings/gitops/webhook-secret", "/settings/gitops/deploy-key", "/settings/gitops/disconnect"]) {
      const { r, html } = await owner.post(path, {}, { csrf: null });
      expect(`${path} ${r.status}`).toBe(`${path} 403`);
      expect(html).toContain("Form expired");
    }
    expect(listSyncs(s.db, st.tenantId).syncs.length).toBe(syncs);
    expect(readWebhookSecret(s.db, s.ctx.secrets, st.tenantId)).toBe(secret);
    expect((await s.api("/api/v1/gitops", { token: st.owner.token })).status).toBe(200);
  });

  test("the owner makes a deploy key for an ssh remote in a plain form; for a file:// remote the page says it is for ssh", async () => {
    const { st, owner } = await newStory("dkey");
    st.repo.commit("one", { "a.yaml": manifest("a") });
    await connectApi(s, st);
    await owner.get("/settings/gitops");
    expect((await owner.post("/settings/gitops/deploy-key", {})).r.status).toBe(303);
    let html = (await owner.get("/settings/gitops")).html;
    expect(html).toContain("No deploy key made: a deploy key is for ssh remotes");
    expect(html).not.toContain('id="deploy-key-value"');
    await connectApi(s, st, { url: "ssh://git@127.0.0.1:1/acme/jobs.git" });
    expect((await owner.post("/settings/gitops/deploy-key", {})).r.status).toBe(303);
    const first = ((await (await s.api("/api/v1/gitops", { token: st.owner.token })).json()) as { ssh_public_key: string }).ssh_public_key;
    expect(first).toMatch(/^ssh-ed25519 /);
    html = (await owner.get("/settings/gitops")).html;
    expect(html).toContain("New deploy key.");
    expect(html).toContain(`<code id="deploy-key" class="url" aria-labelledby="deploy-key-label">${first}</code>`);
    expect(html).toContain("Make a new deploy key");
    // A second one replaces the first.
    expect((await owner.post("/settings/gitops/deploy-key", {})).r.status).toBe(303);
    const second = ((await (await s.api("/api/v1/gitops", { token: st.owner.token })).json()) as { ssh_public_key: string }).ssh_public_key;
    expect(second).not.toBe(first);
  });

  test("the owner rotates the webhook secret and disconnects after its page: the jobs stay, as ordinary jobs", async () => {
    const { st, owner } = await newStory("disc");
    st.repo.commit("one", { "ops/a.yaml": manifest("a") });
    await connectApi(s, st);
    const secret = readWebhookSecret(s.db, s.ctx.secrets, st.tenantId);
    await owner.get("/settings/gitops");
    expect((await owner.post("/settings/gitops/webhook-secret", {})).r.status).toBe(303);
    const rotated = readWebhookSecret(s.db, s.ctx.secrets, st.tenantId);
    expect(rotated).not.toBe(secret);
    expect((await owner.get("/settings/gitops")).html).toContain(rotated);
    const ask = (await owner.get("/settings/gitops/disconnect")).html;
    expect(text(ask)).toContain("The 1 job it made stay, as ordinary jobs");
    expect((await owner.post("/settings/gitops/disconnect", {})).r.status).toBe(303);
    expect(getJob(s.db, st.tenantId, "ops", "a").source).toBeNull();
    const html = (await owner.get("/settings/gitops")).html;
    expect(html).toContain("Repository disconnected.");
    expect(html).toContain("Connect the repository");
    expect((await owner.get("/jobs/ops/a")).html).toContain('href="/jobs/ops/a/edit"');
  });
});

describe("escaping and weight", () => {
  test("a hostile commit message, author and error message show as text", async () => {
    const { st, owner } = await newStory("xss");
    st.repo.commit('<img src=x onerror=alert(1)> "quoted"', { "a.yaml": manifest("a"), "<b>.yaml": BROKEN.replace("not a schedule", "<script>x</script>") });
    await connectApi(s, st);
    const html = (await owner.get("/settings/gitops")).html;
    expect(markup(html)).not.toContain("<img src=x");
    expect(markup(html)).not.toContain("<script>x");
    expect(markup(html)).not.toContain("<b>.yaml");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).toContain("&lt;b&gt;.yaml:6:3");
  });

  test("the page's first load (HTML, CSS and script) stays under 150 KB with errors, orphans and a full page of history", async () => {
    const { st, owner } = await newStory("weight");
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) files[`ops/job-${i}.yaml`] = manifest(`job-${i}`);
    for (let i = 0; i < 20; i++) files[`ops/broken-${i}.yaml`] = BROKEN.replace("broken", `broken-${i}`);
    st.repo.commit("many", files);
    await connectApi(s, st);
    for (let i = 0; i < 20; i++) {
      st.repo.commit(`change ${i}: a longer commit message that says what changed and why, as people write them`, { [`ops/job-${i}.yaml`]: null });
      await s.ctx.gitops.sync(st.tenantId, "manual");
    }
    const { html } = await owner.get("/settings/gitops");
    expect(html).toContain("Orphans (20)");
    expect(html).toContain("Errors (20)");
    let bytes = Buffer.byteLength(html);
    for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) bytes += (await (await fetch(s.url + m[1], { headers: { "accept-encoding": "identity" } })).arrayBuffer()).byteLength;
    expect(bytes).toBeLessThan(150 * 1024);
    const plan = (await owner.get("/settings/gitops/plan", hx)).html;
    expect(Buffer.byteLength(plan)).toBeLessThan(30 * 1024);
  });
});
