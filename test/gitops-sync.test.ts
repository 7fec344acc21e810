// GitOps syncs against a real bare repository over file://: alice commits manifests, and each
// commit becomes her jobs, without losing one to a bad push. Each story has a tenant and a
// repository of its own on one server, and builds the history it needs itself: the stories pass
// in any order.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { holdPeriodicSyncs, manifest, TestRepo } from "./gitops-repo";
import { persona, startTestServer, type TestServer } from "./helpers";

let srv: TestServer;
const repos: TestRepo[] = [];

beforeAll(async () => {
  srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
});
afterAll(async () => {
  await srv.close();
  for (const r of repos) r.close();
});

/** Alice's tenant `slug`, with an empty repository of its own, not connected yet. */
async function tenant(slug: string) {
  const alice = await persona(srv.db, `alice-${slug}`, slug, "owner");
  const repo = new TestRepo();
  repos.push(repo);
  // Every sync in these stories is one the story asks for.
  const heldUntil = holdPeriodicSyncs(srv.db, slug);
  const call = async (path: string, init: { method?: string; json?: unknown } = {}) => {
    const res = await srv.api(path, { ...init, token: alice.token });
    return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as any) };
  };
  const sync = (confirm?: string) => call(`/api/v1/gitops/sync${confirm ? `?confirm_prune=${confirm}` : ""}`, { method: "POST" });
  const jobNames = async () => ((await call("/api/v1/jobs")).body.jobs as { namespace: string; name: string }[]).map((j) => `${j.namespace}/${j.name}`).sort();
  const connect = async (over: object = {}) => {
    const r = await call("/api/v1/gitops", { method: "PUT", json: { url: repo.url, ...over } });
    expect(r.status).toBe(200);
    // The hold is still there: no periodic sync can come between the story's steps.
    expect((await call("/api/v1/gitops/status")).body.next_sync_at).toBe(heldUntil);
    return r;
  };
  /** Commits `files`, connects and syncs them: the state a story starts from. */
  const syncedWith = async (files: Record<string, string>, over: object = {}) => {
    const commit = repo.commit("first jobs", files);
    await connect(over);
    const r = await sync();
    expect(r.body).toMatchObject({ state: "ok", commit });
    return r;
  };
  return { repo, call, sync, jobNames, connect, syncedWith };
}

describe("sync", () => {
  test("before any sync the state is never; a first sync creates the jobs with their source, adopting one made by hand", async () => {
    const { repo, call, sync, connect } = await tenant("adopts");
    // A job made by hand first: it has a history and a ping token to keep.
    await call("/api/v1/jobs/production/backup", { method: "PUT", json: { schedule: "@hourly" } });
    const before = (await call("/api/v1/jobs/production/backup")).body;
    await fetch(before.ping_url);
    repo.commit("add jobs", {
      "production/backup.yaml": manifest("backup", "@daily", { command: "/usr/local/bin/backup" }),
      "staging/report.yaml": manifest("report"),
      "README.md": "# our jobs",
      ".github/workflows/ci.yml": "on: push\n",
    });
    await connect();
    expect((await call("/api/v1/gitops/status")).body.state).toBe("never");
    const r = await sync();
    expect(r.status).toBe(200);
    expect(r.body.state).toBe("ok");
    expect(r.body.plan.create.map((c: { name: string }) => c.name)).toEqual(["report"]);
    expect(r.body.plan.adopt[0]).toMatchObject({ namespace: "production", name: "backup", changes: [{ field: "schedule", from: "@hourly", to: "@daily" }, { field: "command", from: null, to: "/usr/local/bin/backup" }] });
    expect(r.body.plan.skipped).toEqual([".github/workflows/ci.yml"]);
    const after = (await call("/api/v1/jobs/production/backup")).body;
    expect(after.id).toBe(before.id);
    expect(after.ping_url).toBe(before.ping_url);
    expect(after.checkins_total).toBe(1);
    expect(after.schedule).toBe("@daily");
    expect(after.source).toEqual({ repository: repo.url, path: "production/backup.yaml", commit: r.body.commit });
    expect((await call("/api/v1/jobs/staging/report")).body.source).toEqual({ repository: repo.url, path: "staging/report.yaml", commit: r.body.commit });
  });

  test("a git-managed job's spec cannot change through the API (409 managed_by_git); pause stays allowed and a sync keeps it", async () => {
    const { repo, call, sync, syncedWith } = await tenant("manages");
    await syncedWith({ "staging/report.yaml": manifest("report") });
    const put = await call("/api/v1/jobs/staging/report", { method: "PUT", json: { schedule: "@hourly" } });
    expect(put.status).toBe(409);
    expect(put.body.error.code).toBe("managed_by_git");
    expect(put.body.error.details.source.path).toBe("staging/report.yaml");
    expect((await call("/api/v1/jobs/staging/report", { method: "DELETE" })).status).toBe(409);
    expect((await call("/api/v1/jobs/staging/report/pause", { method: "POST" })).status).toBe(200);
    const touch = repo.commit("touch", { "staging/other.yaml": manifest("other") });
    // A sync of a new commit (not the unchanged head's shortcut) keeps the pause.
    expect((await sync()).body).toMatchObject({ state: "ok", commit: touch });
    const report = (await call("/api/v1/jobs/staging/report")).body;
    expect(report.paused).toBe(true);
    expect(report.schedule).toBe("@daily");
  });

  test("an unchanged head costs one fetch and no parse: the plan answered is the last one", async () => {
    const { repo, call, sync, syncedWith } = await tenant("unchanged");
    await syncedWith({ "staging/report.yaml": manifest("report") });
    repo.commit("touch", { "staging/other.yaml": manifest("other") });
    const last = await sync();
    expect(last.body.state).toBe("ok");
    const r = await sync();
    expect(r.body.state).toBe("ok");
    expect(r.body).toEqual(last.body);
    const syncs = (await call("/api/v1/gitops/syncs")).body.syncs;
    expect(syncs[0].message).toBe("touch");
    expect(syncs.length).toBe(2);
  });

  test("a change updates, a rename keeps the job, and a broken manifest among good ones is reported while the rest applies", async () => {
    const { repo, call, sync, jobNames, syncedWith } = await tenant("changes");
    await syncedWith({
      "production/backup.yaml": manifest("backup", "@daily", { command: "/usr/local/bin/backup" }),
      "staging/report.yaml": manifest("report"),
      "staging/other.yaml": manifest("other"),
    });
    const other = (await call("/api/v1/jobs/staging/other")).body;
    repo.rename("staging/other.yaml", "staging/renamed.yaml", "rename");
    repo.commit("change and break", {
      "staging/report.yaml": manifest("report", "@weekly"),
      "staging/broken.yaml": "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: broken\nspec:\n  schedule: \"not a schedule\"\n",
    });
    const r = await sync();
    expect(r.body.state).toBe("degraded");
    expect(r.body.plan.update.map((u: { name: string }) => u.name)).toEqual(["report"]);
    expect(r.body.plan.errors).toEqual([expect.objectContaining({ path: "staging/broken.yaml", line: 6, column: 3 })]);
    const renamed = (await call("/api/v1/jobs/staging/other")).body;
    expect(renamed.source.path).toBe("staging/renamed.yaml");
    expect(renamed.id).toBe(other.id);
    expect((await call("/api/v1/jobs/staging/report")).body.schedule).toBe("@weekly");
    const status = (await call("/api/v1/gitops/status")).body;
    expect(status).toMatchObject({ state: "degraded", commit: r.body.commit, plan: { update: 1 } });
    expect(status.errors[0].path).toBe("staging/broken.yaml");
    expect(await jobNames()).toEqual(["production/backup", "staging/other", "staging/report"]);
  });

  test("duplicates are both reported and neither applied", async () => {
    const { repo, sync, jobNames, syncedWith } = await tenant("duplicates");
    await syncedWith({ "staging/report.yaml": manifest("report") });
    repo.commit("dup", { "production/twin.yaml": manifest("twin"), "production/twin2.yaml": manifest("twin", "@hourly") });
    const r = await sync();
    expect(r.body.state).toBe("degraded");
    expect(r.body.plan.errors.map((e: { path: string }) => e.path)).toEqual(["production/twin.yaml", "production/twin2.yaml"]);
    expect(await jobNames()).not.toContain("production/twin");
    expect(await jobNames()).toEqual(["staging/report"]);
  });

  test("with prune off a deleted file leaves an orphan; with prune on it is deleted; a job not from Git is never touched", async () => {
    const { repo, call, sync, jobNames, connect, syncedWith } = await tenant("prunes");
    await syncedWith({
      "production/backup.yaml": manifest("backup"),
      "staging/report.yaml": manifest("report"),
      "staging/renamed.yaml": manifest("other"),
    });
    await call("/api/v1/jobs/default/handmade", { method: "PUT", json: { schedule: "@daily" } });
    const handmade = (await call("/api/v1/jobs/default/handmade")).body;
    repo.commit("drop other", { "staging/renamed.yaml": null });
    let r = await sync();
    expect(r.body.state).toBe("ok");
    expect(r.body.plan.orphan).toEqual([{ namespace: "staging", name: "other", path: "staging/renamed.yaml" }]);
    expect(r.body.plan.delete).toEqual([]);
    expect(await jobNames()).toContain("staging/other");
    await connect({ prune: true });
    r = await sync();
    expect(r.body.state).toBe("ok");
    expect(r.body.plan.delete).toEqual([{ namespace: "staging", name: "other", path: "staging/renamed.yaml" }]);
    expect(await jobNames()).toEqual(["default/handmade", "production/backup", "staging/report"]);
    expect((await call("/api/v1/jobs/default/handmade")).body).toMatchObject({ id: handmade.id, schedule: "@daily", source: null });
  });

  test("a force push to an empty tree or a missing path changes nothing and is reported as failing", async () => {
    const { repo, call, sync, jobNames, connect, syncedWith } = await tenant("force-pushes");
    await syncedWith({ "production/backup.yaml": manifest("backup"), "staging/report.yaml": manifest("report") }, { prune: true });
    const jobs = async () => ((await call("/api/v1/jobs")).body.jobs as { namespace: string; name: string; schedule: string; source: unknown }[]).map((j) => ({ job: `${j.namespace}/${j.name}`, schedule: j.schedule, source: j.source }));
    const names = await jobNames();
    const before = await jobs();
    expect(names).toEqual(["production/backup", "staging/report"]);
    repo.forcePushOrphan("oops", {});
    let r = await sync();
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toMatch(/empty|no manifest/);
    expect(await jobNames()).toEqual(names);
    expect(await jobs()).toEqual(before);
    // The manifests are back, changed, but below another path than the settings' one.
    repo.commit("back, changed", { "production/backup.yaml": manifest("backup", "@hourly"), "staging/report.yaml": manifest("report", "@hourly") });
    await connect({ prune: true, path: "nowhere" });
    r = await sync();
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toMatch(/path nowhere does not exist/);
    expect(await jobNames()).toEqual(names);
    expect(await jobs()).toEqual(before);
    expect((await call("/api/v1/gitops/status")).body.state).toBe("failing");
  });

  test("the prune guard stops a sync that would delete every git-managed job, until confirmed for that commit", async () => {
    const { repo, call, sync, jobNames, syncedWith } = await tenant("guards");
    await syncedWith({ "production/backup.yaml": manifest("backup"), "production/twin.yaml": manifest("twin"), "staging/report.yaml": manifest("report") }, { prune: true });
    await call("/api/v1/jobs/default/handmade", { method: "PUT", json: { schedule: "@daily" } });
    const all = await jobNames();
    expect(all).toEqual(["default/handmade", "production/backup", "production/twin", "staging/report"]);
    const c = repo.forcePushOrphan("only docs", { "README.md": "# moved", "x.yaml": "apiVersion: v1\nkind: ConfigMap\n" });
    let r = await sync();
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toContain(`confirm_prune=${c}`);
    expect(r.body.plan.delete.length).toBe(3);
    expect(await jobNames()).toContain("production/backup");
    expect(await jobNames()).toEqual(all);
    r = await sync("0000000");
    expect(r.body.state).toBe("failing");
    expect(await jobNames()).toEqual(all);
    r = await sync(c);
    expect(r.body.state).toBe("ok");
    expect(await jobNames()).toEqual(["default/handmade"]);
  });

  test("concurrent sync requests share one sync; the history pages", async () => {
    const { repo, call, sync, syncedWith } = await tenant("pages");
    await syncedWith({ "a.yaml": manifest("a") });
    repo.commit("second", { "a.yaml": manifest("a", "@hourly") });
    expect((await sync()).body.state).toBe("ok");
    const back = repo.commit("back", { "a.yaml": manifest("a") });
    const [x, y] = await Promise.all([sync(), sync()]);
    expect(x.body).toEqual(y.body);
    expect(x.body).toMatchObject({ state: "ok", commit: back });
    const page = (await call("/api/v1/gitops/syncs?limit=2")).body;
    expect(page.syncs.length).toBe(2);
    expect(page.syncs[0]).toMatchObject({ message: "back", author: "Alice <alice@example.com>", trigger: "manual", state: "ok" });
    const next = (await call(`/api/v1/gitops/syncs?limit=2&cursor=${page.next_cursor}`)).body;
    expect(next.syncs[0].id).toBeLessThan(page.syncs[1].id);
    // Three syncs made a row each, the two concurrent requests one between them.
    expect([...page.syncs, ...next.syncs].map((s: { message: string }) => s.message)).toEqual(["back", "second", "first jobs"]);
    expect(next.next_cursor).toBeNull();
  });

  test("GET /plan shows what a sync would do and applies nothing", async () => {
    const { repo, call, jobNames, syncedWith } = await tenant("plans");
    const first = await syncedWith({ "a.yaml": manifest("a") });
    repo.commit("b", { "b.yaml": manifest("b") });
    const plan = (await call("/api/v1/gitops/plan")).body;
    expect(plan.create.map((c: { name: string }) => c.name)).toEqual(["b"]);
    expect(plan.unchanged).toBe(1);
    expect(await jobNames()).not.toContain("default/b");
    expect(await jobNames()).toEqual(["default/a"]);
    expect((await call("/api/v1/gitops/status")).body).toMatchObject({ state: "ok", commit: first.body.commit });
    expect((await call("/api/v1/gitops/syncs")).body.syncs.length).toBe(1);
  });
});
