// Bootstrap (issue 14, part 5): alice exports acme's jobs with `crontopus jobs export --dir`, commits
// the directory to a new repository and connects it. The plan is only `adopt`, with no change to any
// job, and the sync that follows keeps every job's id, ping URL and history.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cli, persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";
import { bareRepo, workTree } from "./git";

let srv: TestServer;
let alice: Persona;

// Jobs of every shape the export has to carry: labels and annotations that look like other YAML
// types, multi-line values, selectors, alerts, a paused job, a time zone.
const JOBS: Record<string, Record<string, unknown>> = {
  "default/db-backup": { schedule: "0 2 * * *", command: "pg_dump app > /backup/app.sql", labels: { env: "prod" }, grace: "10m", timeout: "1h" },
  "123/yes": { schedule: "@daily", timezone: "Asia/Kolkata", labels: { on: "no", n: "007" }, env: { MULTI: "one\ntwo\n" }, command: "echo '#1: *ok*'" },
  "staging/null": { schedule: "@every 5m", agent: { selector: { role: "db", "topology/zone": "eu-1" } }, annotations: { doc: "line\n  indented\n" }, alerts: { after: 2, channels: ["ops"], renotify: "1h" } },
  "staging/paused": { schedule: "*/15 * * * *", paused: true, user: "www-data", command: "/srv/sweep", args: ["--fast", "-v"], working_dir: "/srv" },
};

beforeAll(async () => {
  srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
  alice = await persona(srv.db, "alice", "acme", "owner");
  for (const [ref, job] of Object.entries(JOBS)) {
    const r = await srv.api(`/api/v1/jobs/${ref}`, { method: "PUT", token: alice.token, json: job });
    expect([r.status, ref, r.status === 201 ? "" : await r.text()]).toEqual([201, ref, ""]);
  }
});
afterAll(() => srv.close());

const api = async (path: string, init: { method?: string; json?: unknown } = {}) => {
  const res = await srv.api(path, { ...init, token: alice.token });
  return (await res.json()) as any;
};

test("export, commit and connect: the plan is only adopt, with no change, and the sync keeps every job", async () => {
  await fetch((await api("/api/v1/jobs/default/db-backup")).ping_url);
  const before: Record<string, any> = Object.fromEntries(await Promise.all(Object.keys(JOBS).map(async (ref) => [ref, await api(`/api/v1/jobs/${ref}`)])));

  const bare = bareRepo();
  const repo = workTree(bare);
  const home = tempDir("crontopus-export-connect-");
  const env = { HOME: home, XDG_CONFIG_HOME: "", CRONTOPUS_CONFIG: join(home, "none.json"), CRONTOPUS_URL: srv.url, CRONTOPUS_TOKEN: alice.token };
  const exported = await cli(["jobs", "export", "--dir", join(repo.dir, "jobs")], env);
  expect(exported.stderr).toBe("");
  expect(exported.code).toBe(0);
  repo.write("README.md", "# acme's jobs\n");
  repo.commit("Export acme's jobs");
  repo.push();

  expect((await srv.api("/api/v1/gitops", { method: "PUT", token: alice.token, json: { url: `file://${bare}`, path: "jobs" } })).status).toBe(200);
  // The sync answers the plan it applied (a periodic sync may have run it first: then that one's plan).
  const synced = await api("/api/v1/gitops/sync", { method: "POST" });
  expect(synced.state).toBe("ok");
  expect(synced.plan).toMatchObject({ create: [], update: [], delete: [], orphan: [], unchanged: 0, skipped: [], errors: [] });
  expect(synced.plan.adopt).toEqual(
    Object.keys(JOBS)
      .sort()
      .map((ref) => ({ namespace: ref.split("/")[0], name: ref.split("/")[1], path: `jobs/${ref}.yaml`, changes: [] })),
  );
  // Adopted, the same tree is a plan of no change.
  const again = await cli(["gitops", "plan", "--exit-code"], env);
  expect(again.stdout).toContain("Plan: 0 to create, 0 to update, 0 to delete, 0 to adopt; 4 unchanged; 0 errors.");
  expect(again.code).toBe(0);
  for (const [ref, job] of Object.entries(before)) {
    const after = await api(`/api/v1/jobs/${ref}`);
    // Nothing but the source changed: not the spec, not updated_at, not the id, ping URL or history.
    const { source, ...rest } = after;
    const { source: _, ...was } = job;
    expect(rest).toEqual(was);
    expect(source).toEqual({ repository: `file://${bare}`, path: `jobs/${ref}.yaml`, commit: synced.commit });
  }
  expect((await api("/api/v1/jobs/default/db-backup")).checkins_total).toBe(1);
});
