// A git-managed job's source, and its pause as a runtime override, as alice sees them through the
// API and the CLI against a live server and a real bare repository. Each story has its own tenant.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { manifest, TestRepo } from "./gitops-repo";
import { cli, persona, startTestServer, TestClock, type TestServer } from "./helpers";
import { until } from "./receiver";

let srv: TestServer;
const repos: TestRepo[] = [];

beforeAll(async () => {
  // A clock that stands still: the scheduler syncs a repository once when it is connected, and
  // never again by itself, so the stories drive every later sync.
  srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" }, { clock: new TestClock() });
});
afterAll(async () => {
  await srv.close();
  for (const r of repos) r.close();
});

/** A tenant whose repository holds production/backup and staging/report, synced once, and a job made through the API. */
async function synced(slug: string) {
  const owner = await persona(srv.db, `${slug}-owner`, slug, "owner");
  const repo = new TestRepo();
  repos.push(repo);
  const call = async (path: string, init: { method?: string; json?: unknown } = {}) => {
    const res = await srv.api(path, { ...init, token: owner.token });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
  const sync = async () => (await call("/api/v1/gitops/sync", { method: "POST" })).body;
  const commit = repo.commit("first jobs", { "production/backup.yaml": manifest("backup"), "staging/report.yaml": manifest("report") });
  expect((await call("/api/v1/gitops", { method: "PUT", json: { url: repo.url } })).status).toBe(200);
  // The scheduler's first sync, straight after connecting.
  const first = await until(async () => {
    const status = (await call("/api/v1/gitops/status")).body;
    return status.last_sync_at && status.state !== "syncing" ? status : null;
  }, 60_000);
  expect(first.state).toBe("ok");
  expect((await call("/api/v1/jobs/default/adhoc", { method: "PUT", json: { schedule: "@hourly" } })).status).toBe(201);
  const env = { CRONTOPUS_URL: srv.url, CRONTOPUS_TOKEN: owner.token };
  return { repo, call, sync, commit, env, crontopus: (...args: string[]) => cli(args, env) };
}

describe("the job source", () => {
  test("GET of one job and of the list carry source {repository, path, commit}; null for a job made through the API", async () => {
    const t = await synced("acme");
    const one = (await t.call("/api/v1/jobs/staging/report")).body;
    expect(one.source).toEqual({ repository: t.repo.url, path: "staging/report.yaml", commit: t.commit });
    expect(one.paused_override).toBe(false);
    expect((await t.call("/api/v1/jobs/default/adhoc")).body).toMatchObject({ source: null, paused_override: false });
    const list = (await t.call("/api/v1/jobs")).body.jobs as { namespace: string; name: string; source: unknown }[];
    expect(Object.fromEntries(list.map((j) => [`${j.namespace}/${j.name}`, j.source]))).toEqual({
      "default/adhoc": null,
      "production/backup": { repository: t.repo.url, path: "production/backup.yaml", commit: t.commit },
      "staging/report": { repository: t.repo.url, path: "staging/report.yaml", commit: t.commit },
    });
  });

  test("crontopus jobs get prints the source and that Git manages the job; a job made through the API has neither", async () => {
    const t = await synced("globex");
    let r = await t.crontopus("jobs", "get", "staging/report");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines).toContain(`source:      ${t.repo.url} staging/report.yaml@${t.commit.slice(0, 12)}`);
    expect(lines).toContain("             managed by Git: change its manifest, not the job (pause and resume are runtime overrides a sync keeps)");
    expect(lines).toContain("status:      new");
    r = await t.crontopus("jobs", "get", "adhoc");
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("source:");
    expect(r.stdout).not.toContain("managed by Git");
  });

  test("crontopus jobs list marks git-managed jobs in a SOURCE column, shown only when some job is from Git", async () => {
    const t = await synced("initech");
    let r = await t.crontopus("jobs", "list");
    expect(r.code).toBe(0);
    const [header, ...rows] = r.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^NAMESPACE\s+NAME\s+STATUS\s+SCHEDULE\s+NEXT RUN\s+SOURCE$/);
    const source = (name: string) => rows.find((l) => l.split(/\s+/)[1] === name)!.trim().split(/\s{2,}/).at(-1);
    expect([source("adhoc"), source("backup"), source("report")]).toEqual(["-", "git", "git"]);
    r = await t.crontopus("jobs", "list", "--namespace", "default");
    expect(r.stdout.split("\n")[0]).toMatch(/NEXT RUN$/);
  });
});

describe("pause and resume of a git-managed job: a runtime override a sync keeps", () => {
  test("a paused job stays paused through a sync of a commit that changes its manifest, and shows as an override until Git agrees", async () => {
    const t = await synced("umbrella");
    let r = await t.crontopus("jobs", "pause", "staging/report");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("job staging/report paused (runtime override; Git says active, and a sync keeps it)");

    // A commit that changes the paused job's own manifest: applied, and the pause kept.
    const changed = t.repo.commit("report hourly", { "staging/report.yaml": manifest("report", "@hourly") });
    const s = await t.sync();
    expect(s.state).toBe("ok");
    expect(s.plan.update).toEqual([{ namespace: "staging", name: "report", path: "staging/report.yaml", changes: [{ field: "schedule", from: "@daily", to: "@hourly" }] }]);
    const job = (await t.call("/api/v1/jobs/staging/report")).body;
    expect(job).toMatchObject({ schedule: "@hourly", paused: true, status: "paused", paused_override: true, source: { commit: changed } });
    r = await t.crontopus("jobs", "get", "staging/report");
    expect(r.stdout.split("\n")).toContain("status:      paused (runtime override; Git says active)");
    r = await t.crontopus("jobs", "list", "--namespace", "staging");
    expect(r.stdout.split("\n")[1]).toMatch(/^staging\s+report\s+paused\s+@hourly\s+.+\s+git, override$/);

    // Git saying paused too ends the override; Git saying active again then resumes the job.
    t.repo.commit("pause it in git", { "staging/report.yaml": manifest("report", "@hourly").replace("spec:\n", "spec:\n  paused: true\n") });
    expect((await t.sync()).state).toBe("ok");
    expect((await t.call("/api/v1/jobs/staging/report")).body).toMatchObject({ paused: true, paused_override: false });
    t.repo.commit("resume it in git", { "staging/report.yaml": manifest("report", "@hourly") });
    expect((await t.sync()).plan.update[0].changes).toEqual([{ field: "paused", from: true, to: false }]);
    expect((await t.call("/api/v1/jobs/staging/report")).body).toMatchObject({ paused: false, status: "new", paused_override: false });
  });

  test("a job resumed against a manifest that says paused stays running through a sync, shown as an override", async () => {
    const t = await synced("hooli");
    t.repo.commit("pause backup in git", { "production/backup.yaml": manifest("backup").replace("spec:\n", "spec:\n  paused: true\n") });
    expect((await t.sync()).state).toBe("ok");
    expect((await t.call("/api/v1/jobs/production/backup")).body.paused).toBe(true);
    const r = await t.crontopus("jobs", "resume", "production/backup");
    expect(r.stdout.trim()).toBe("job production/backup resumed (runtime override; Git says paused, and a sync keeps it)");
    t.repo.commit("touch", { "production/backup.yaml": manifest("backup", "@weekly").replace("spec:\n", "spec:\n  paused: true\n") });
    expect((await t.sync()).state).toBe("ok");
    expect((await t.call("/api/v1/jobs/production/backup")).body).toMatchObject({ schedule: "@weekly", paused: false, paused_override: true });
    expect((await t.crontopus("jobs", "get", "production/backup")).stdout).toContain("(runtime override; Git says paused)");
  });
});
