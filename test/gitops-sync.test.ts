// GitOps syncs against a real bare repository over file://: alice's acme commits manifests, and
// each commit becomes her jobs, without losing one to a bad push.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { manifest, TestRepo } from "./gitops-repo";
import { persona, startTestServer, type Persona, type TestServer } from "./helpers";

let srv: TestServer;
let alice: Persona;
let repo: TestRepo;

beforeAll(async () => {
  srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
  alice = await persona(srv.db, "alice", "acme", "owner");
  repo = new TestRepo();
});
afterAll(async () => {
  await srv.close();
  repo.close();
});

const call = async (path: string, init: { method?: string; json?: unknown } = {}) => {
  const res = await srv.api(path, { ...init, token: alice.token });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
};
const sync = (confirm?: string) => call(`/api/v1/gitops/sync${confirm ? `?confirm_prune=${confirm}` : ""}`, { method: "POST" });
const jobNames = async () => ((await call("/api/v1/jobs")).body.jobs as { namespace: string; name: string }[]).map((j) => `${j.namespace}/${j.name}`).sort();
const connect = (over: object = {}) => call("/api/v1/gitops", { method: "PUT", json: { url: repo.url, ...over } });

describe("sync", () => {
  test("before any sync the state is never; a first sync creates the jobs with their source, adopting one made by hand", async () => {
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
    expect((await connect()).status).toBe(200);
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
  });

  test("a git-managed job's spec cannot change through the API (409 managed_by_git); pause stays allowed and a sync keeps it", async () => {
    const put = await call("/api/v1/jobs/staging/report", { method: "PUT", json: { schedule: "@hourly" } });
    expect(put.status).toBe(409);
    expect(put.body.error.code).toBe("managed_by_git");
    expect(put.body.error.details.source.path).toBe("staging/report.yaml");
    expect((await call("/api/v1/jobs/staging/report", { method: "DELETE" })).status).toBe(409);
    expect((await call("/api/v1/jobs/staging/report/pause", { method: "POST" })).status).toBe(200);
    repo.commit("touch", { "staging/other.yaml": manifest("other") });
    expect((await sync()).body.state).toBe("ok");
    expect((await call("/api/v1/jobs/staging/report")).body.paused).toBe(true);
  });

  test("an unchanged head costs one fetch and no parse: the plan answered is the last one", async () => {
    const r = await sync();
    expect(r.body.state).toBe("ok");
    const syncs = (await call("/api/v1/gitops/syncs")).body.syncs;
    expect(syncs[0].message).toBe("touch");
    expect(syncs.length).toBe(2);
  });

  test("a change updates, a rename keeps the job, and a broken manifest among good ones is reported while the rest applies", async () => {
    repo.rename("staging/other.yaml", "staging/renamed.yaml", "rename");
    repo.commit("change and break", {
      "staging/report.yaml": manifest("report", "@weekly"),
      "staging/broken.yaml": "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: broken\nspec:\n  schedule: \"not a schedule\"\n",
    });
    const r = await sync();
    expect(r.body.state).toBe("degraded");
    expect(r.body.plan.update.map((u: { name: string }) => u.name)).toEqual(["report"]);
    expect(r.body.plan.errors).toEqual([expect.objectContaining({ path: "staging/broken.yaml", line: 6, column: 3 })]);
    expect((await call("/api/v1/jobs/staging/other")).body.source.path).toBe("staging/renamed.yaml");
    const status = (await call("/api/v1/gitops/status")).body;
    expect(status).toMatchObject({ state: "degraded", commit: r.body.commit, plan: { update: 1 } });
    expect(status.errors[0].path).toBe("staging/broken.yaml");
    expect(await jobNames()).toEqual(["production/backup", "staging/other", "staging/report"]);
  });

  test("duplicates are both reported and neither applied", async () => {
    repo.commit("dup", { "staging/broken.yaml": null, "production/twin.yaml": manifest("twin"), "production/twin2.yaml": manifest("twin", "@hourly") });
    const r = await sync();
    expect(r.body.state).toBe("degraded");
    expect(r.body.plan.errors.map((e: { path: string }) => e.path)).toEqual(["production/twin.yaml", "production/twin2.yaml"]);
    expect(await jobNames()).not.toContain("production/twin");
  });

  test("with prune off a deleted file leaves an orphan; with prune on it is deleted; a job not from Git is never touched", async () => {
    await call("/api/v1/jobs/default/handmade", { method: "PUT", json: { schedule: "@daily" } });
    repo.commit("drop other", { "production/twin2.yaml": null, "staging/renamed.yaml": null });
    let r = await sync();
    expect(r.body.state).toBe("ok");
    expect(r.body.plan.orphan).toEqual([{ namespace: "staging", name: "other", path: "staging/renamed.yaml" }]);
    expect(await jobNames()).toContain("staging/other");
    await connect({ prune: true });
    r = await sync();
    expect(r.body.plan.delete).toEqual([{ namespace: "staging", name: "other", path: "staging/renamed.yaml" }]);
    expect(await jobNames()).toEqual(["default/handmade", "production/backup", "production/twin", "staging/report"]);
  });

  test("a force push to an empty tree or a missing path changes nothing and is reported as failing", async () => {
    const names = await jobNames();
    repo.forcePushOrphan("oops", {});
    let r = await sync();
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toMatch(/empty|no manifest/);
    expect(await jobNames()).toEqual(names);
    await connect({ prune: true, path: "nowhere" });
    r = await sync();
    expect(r.body.state).toBe("failing");
    expect(await jobNames()).toEqual(names);
    expect((await call("/api/v1/gitops/status")).body.state).toBe("failing");
  });

  test("the prune guard stops a sync that would delete every git-managed job, until confirmed for that commit", async () => {
    await connect({ prune: true });
    const c = repo.forcePushOrphan("only docs", { "README.md": "# moved", "x.yaml": "apiVersion: v1\nkind: ConfigMap\n" });
    let r = await sync();
    expect(r.body.state).toBe("failing");
    expect(r.body.message).toContain(`confirm_prune=${c}`);
    expect(r.body.plan.delete.length).toBe(3);
    expect(await jobNames()).toContain("production/backup");
    r = await sync("0000000");
    expect(r.body.state).toBe("failing");
    r = await sync(c);
    expect(r.body.state).toBe("ok");
    expect(await jobNames()).toEqual(["default/handmade"]);
  });

  test("concurrent sync requests share one sync; the history pages", async () => {
    repo.commit("back", { "a.yaml": manifest("a") });
    const [x, y] = await Promise.all([sync(), sync()]);
    expect(x.body).toEqual(y.body);
    const page = (await call("/api/v1/gitops/syncs?limit=2")).body;
    expect(page.syncs.length).toBe(2);
    expect(page.syncs[0]).toMatchObject({ message: "back", author: "Alice <alice@example.com>", trigger: "manual", state: "ok" });
    const next = (await call(`/api/v1/gitops/syncs?limit=2&cursor=${page.next_cursor}`)).body;
    expect(next.syncs[0].id).toBeLessThan(page.syncs[1].id);
  });

  test("GET /plan shows what a sync would do and applies nothing", async () => {
    repo.commit("b", { "b.yaml": manifest("b") });
    const plan = (await call("/api/v1/gitops/plan")).body;
    expect(plan.create.map((c: { name: string }) => c.name)).toEqual(["b"]);
    expect(plan.unchanged).toBe(1);
    expect(await jobNames()).not.toContain("default/b");
  });
});
