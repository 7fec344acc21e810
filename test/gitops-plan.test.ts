// A plan before the push: `crontopus gitops plan --dir DIR` in a pull request's CI reads the
// working tree (a real git clone with uncommitted edits) and POST /api/v1/gitops/plan answers what
// a sync of it would do, as GET /api/v1/gitops/plan does for the branch head; `--exit-code` says
// 0 (no changes), 2 (changes) or 1 (any error). Each story has its own tenant and repository.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { holdPeriodicSyncs, manifest, TestRepo } from "./gitops-repo";
import { cli, persona, startTestServer, type TestServer } from "./helpers";

let srv: TestServer;
const repos: TestRepo[] = [];

beforeAll(async () => {
  srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
});
afterAll(async () => {
  await srv.close();
  for (const r of repos) r.close();
});

/**
 * A tenant whose repository holds `files`, connected (settings `over`) and synced once. No periodic
 * sync: one due right after connecting could apply a story's later commit behind its back.
 */
async function connected(slug: string, files: Record<string, string>, over: object = {}) {
  const who = await persona(srv.db, `${slug}-owner`, slug, "owner");
  const heldUntil = holdPeriodicSyncs(srv.db, slug);
  const repo = new TestRepo();
  repos.push(repo);
  const head = repo.commit("the jobs", files);
  const api = async (path: string, init: { method?: string; json?: unknown } = {}) => {
    const res = await srv.api(path, { ...init, token: who.token });
    return { status: res.status, body: (await res.json()) as any };
  };
  expect((await api("/api/v1/gitops", { method: "PUT", json: { url: repo.url, interval: "1h", ...over } })).status).toBe(200);
  expect((await api("/api/v1/gitops/status")).body.next_sync_at).toBe(heldUntil);
  expect((await api("/api/v1/gitops/sync", { method: "POST" })).body.state).toBe("ok");
  /** Writes into the working tree without committing, as a CI checkout of a pull request holds it. */
  const edit = (path: string, text: string) => {
    mkdirSync(dirname(join(repo.work, path)), { recursive: true });
    writeFileSync(join(repo.work, path), text);
  };
  const plan = (args: string[] = []) => cli(["gitops", "plan", "--dir", repo.work, ...args], { CRONTOPUS_URL: srv.url, CRONTOPUS_TOKEN: who.token });
  return { who, repo, head, api, edit, plan };
}

const JOBS = {
  "production/backup.yaml": manifest("backup", "@daily", { command: "/usr/local/bin/backup" }),
  "staging/report.yaml": manifest("report"),
  "README.md": "# our jobs\n",
};

describe("crontopus gitops plan --dir", () => {
  test("a working tree as the branch has it: no changes, exit 0", async () => {
    const t = await connected("calm", JOBS);
    const r = await t.plan(["--exit-code"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).toBe("Plan: 0 to create, 0 to update, 0 to delete, 0 to adopt; 2 unchanged; 0 errors.\n");
  });

  test("uncommitted edits: the plan shows them Terraform-like and --exit-code exits 2; nothing is applied", async () => {
    const t = await connected("busy", JOBS);
    t.edit("staging/report.yaml", manifest("report", "@weekly"));
    t.edit("staging/cleanup.yml", manifest("cleanup"));
    const r = await t.plan(["--exit-code"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(
      [
        "+ create staging/cleanup (staging/cleanup.yml)",
        "~ update staging/report (staging/report.yaml)",
        '    schedule: "@daily" → "@weekly"',
        "",
        "Plan: 1 to create, 1 to update, 0 to delete, 0 to adopt; 1 unchanged; 0 errors.",
        "",
      ].join("\n"),
    );
    // Without --exit-code a plan with changes is a success.
    expect((await t.plan()).code).toBe(0);
    expect((await t.api("/api/v1/jobs/staging/report")).body.schedule).toBe("@daily");
    expect((await t.api("/api/v1/jobs/staging/cleanup")).status).toBe(404);
  });

  test("a broken file is reported with its path and line, and --exit-code exits 1", async () => {
    const t = await connected("broken", JOBS);
    t.edit("staging/bad.yaml", "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: bad\nspec:\n  schedule: \"every now and then\"\n");
    const r = await t.plan(["--exit-code"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("! error staging/bad.yaml:6:3 spec.schedule: expected 5 fields");
    expect(r.stdout).toContain("; 1 error.");
  });

  test("a deleted file is an orphan with prune off (no change, exit 0) and a delete with prune on (exit 2)", async () => {
    const off = await connected("keeps", JOBS);
    rmSync(join(off.repo.work, "staging/report.yaml"));
    let r = await off.plan(["--exit-code"]);
    expect(r.stdout).toContain("? orphan staging/report (staging/report.yaml)");
    expect(r.code).toBe(0);
    const on = await connected("prunes", JOBS, { prune: true });
    rmSync(join(on.repo.work, "staging/report.yaml"));
    r = await on.plan(["--exit-code"]);
    expect(r.stdout).toContain("- delete staging/report (staging/report.yaml)");
    expect(r.code).toBe(2);
  });

  test("reads what a sync reads: below the settings' path, *.yaml/*.yml/*.json, no .git, no symbolic links", async () => {
    const t = await connected("scoped", { "jobs/production/backup.yaml": manifest("backup"), "other/broken.yaml": "apiVersion: crontopus/v1\nkind: [\n" }, { path: "jobs" });
    // Outside the path, a broken file counts for nothing; inside it, a link is not followed.
    t.edit("other/also-broken.yaml", "apiVersion: crontopus/v1\n: :\n");
    t.edit("jobs/notes.txt", "not a manifest");
    symlinkSync(join(t.repo.work, "other/broken.yaml"), join(t.repo.work, "jobs/linked.yaml"));
    t.edit("jobs/production/report.json", JSON.stringify({ apiVersion: "crontopus/v1", kind: "Job", metadata: { name: "report" }, spec: { schedule: "@hourly" } }));
    const r = await t.plan(["--exit-code", "--json"]);
    expect(r.code).toBe(2);
    const p = JSON.parse(r.stdout);
    expect(p).toMatchObject({ commit: null, create: [{ namespace: "production", name: "report", path: "jobs/production/report.json" }], unchanged: 1, errors: [], skipped: [] });
  });

  test("the plan of an unchanged tree is the plan of the branch head: POST and GET answer the same JSON", async () => {
    const t = await connected("same", JOBS);
    t.repo.commit("change on the branch", { "staging/report.yaml": manifest("report", "@hourly"), "staging/extra.yaml": manifest("extra"), "staging/bad.yaml": "apiVersion: crontopus/v1\nkind: Job\nmetadata: {name: bad}\nspec: {}\n" });
    const fromBranch = (await t.api("/api/v1/gitops/plan")).body;
    const files = ["production/backup.yaml", "staging/report.yaml", "staging/extra.yaml", "staging/bad.yaml", "README.md"].map((path) => ({ path, content: Bun.file(join(t.repo.work, path)).text() }));
    const body = { files: await Promise.all(files.map(async (f) => ({ path: f.path, content: await f.content }))) };
    const fromTree = await t.api("/api/v1/gitops/plan", { method: "POST", json: body });
    expect(fromTree.status).toBe(200);
    expect(fromBranch.create.length + fromBranch.update.length + fromBranch.errors.length).toBe(3);
    expect(fromTree.body).toEqual({ ...fromBranch, commit: null });
  });
});

describe("--exit-code: 1 for any error", () => {
  test("a usage error exits 1 with --exit-code (2 means changes) and 2 without it, one line on stderr", async () => {
    const t = await connected("typo", JOBS);
    const env = { CRONTOPUS_URL: srv.url, CRONTOPUS_TOKEN: t.who.token };
    let r = await cli(["gitops", "plan", "--exit-code", "--dri", t.repo.work], env);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: "error: unknown option --dri (see --help)\n" });
    r = await cli(["gitops", "plan", "--exit-code", "--dir"], env);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: "error: --dir needs a value (see --help)\n" });
    r = await cli(["gitops", "plan", "--exit-code", "extra"], env);
    expect(r.code).toBe(1);
    r = await cli(["gitops", "plan", "--dri", t.repo.work], env);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: "error: unknown option --dri (see --help)\n" });
  });

  test("a directory that is not there, or without the settings' path, exits 1", async () => {
    const t = await connected("nodir", { "jobs/a.yaml": manifest("a") }, { path: "jobs" });
    const env = { CRONTOPUS_URL: srv.url, CRONTOPUS_TOKEN: t.who.token };
    let r = await cli(["gitops", "plan", "--exit-code", "--dir", join(t.repo.root, "nope")], env);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: `error: ${join(t.repo.root, "nope")}: no such directory\n` });
    rmSync(join(t.repo.work, "jobs"), { recursive: true });
    r = await t.plan(["--exit-code"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: `error: path jobs does not exist in ${t.repo.work}\n` });
  });

  test("a file over the sync's 1 MiB limit exits 1 naming it", async () => {
    const t = await connected("huge", JOBS);
    t.edit("staging/huge.yaml", `# ${"x".repeat(1024 * 1024)}\n`);
    const r = await t.plan(["--exit-code"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: staging/huge.yaml is 1048579 bytes; files over 1048576 bytes are refused\n");
  });

  test("a failed fetch (plan of the branch head) exits 1", async () => {
    const t = await connected("gone", JOBS);
    rmSync(t.repo.bare, { recursive: true });
    const r = await cli(["gitops", "plan", "--exit-code"], { CRONTOPUS_URL: srv.url, CRONTOPUS_TOKEN: t.who.token });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: git fetch failed: .*\n$/);
  });
});

describe("POST /api/v1/gitops/plan", () => {
  test("refuses paths outside the repository, a path given twice, and a tree with no manifest below the path (422 naming the field)", async () => {
    const t = await connected("strict", JOBS);
    const post = (files: { path: string; content: string }[]) => t.api("/api/v1/gitops/plan", { method: "POST", json: { files } });
    let r = await post([{ path: "../etc/passwd.yaml", content: "" }]);
    expect(r.status).toBe(422);
    expect(r.body.error.message).toMatch(/^files\[0\]\.path: must be a relative path inside the repository/);
    r = await post([{ path: "a.yaml", content: manifest("a") }, { path: "a.yaml", content: manifest("a") }]);
    expect(r.body.error.message).toBe("files[1].path: a.yaml is given twice");
    r = await post([{ path: "README.md", content: "# hi" }]);
    expect(r.status).toBe(422);
    expect(r.body.error.message).toMatch(/^files: no manifest file \(\*\.yaml, \*\.yml, \*\.json\) below the root; a sync of this tree would change nothing$/);
    r = await t.api("/api/v1/gitops/plan", { method: "POST", json: { files: [{ path: "a.yaml" }] } });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toMatch(/^files\[0\]\.content: /);
  });

  test("a body over 16 MiB is 413 before it is read", async () => {
    const t = await connected("toobig", JOBS);
    const res = await srv.api("/api/v1/gitops/plan", { method: "POST", token: t.who.token, json: { files: [{ path: "a.yaml", content: "x".repeat(16 * 1024 * 1024) }] } });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error).toEqual({ code: "payload_too_large", message: "body: must be at most 16777216 bytes" });
  });

  test("a viewer may plan (it applies nothing); without a repository connected it is 404", async () => {
    const t = await connected("readers", JOBS);
    const viewer = await persona(srv.db, "victor", "readers", "viewer");
    const files = [{ path: "staging/new.yaml", content: manifest("new") }];
    const res = await srv.api("/api/v1/gitops/plan", { method: "POST", token: viewer.token, json: { files } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).create).toEqual([{ namespace: "staging", name: "new", path: "staging/new.yaml" }]);
    const loner = await persona(srv.db, "lonely", "no-repo", "owner");
    expect((await srv.api("/api/v1/gitops/plan", { method: "POST", token: loner.token, json: { files } })).status).toBe(404);
  });
});
