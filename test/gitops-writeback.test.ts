// GitOps write-back against real repositories: alice's acme keeps its jobs in Git and turns
// write-back on; her edits through the API, the console and the CLI become commits on the branch
// (author alice, committer Crontopus), pushed and then applied by the sync of that commit. Bob
// pushes at the same time: a push to another file is waited out, one to the same file is a 409 that
// changes nothing. Over file:// and over http with a token (git http-backend).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cli, PASSWORD, persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";
import { bareRepo, git, gitHttpServer, workTree, type GitHttpServer, type WorkTree } from "./git";
import { FormClient } from "./console/client";

const manifest = (name: string, schedule: string, extra = "") => `apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: ${name}\n${extra}spec:\n  schedule: "${schedule}"\n`;

interface Answer {
  status: number;
  body: any;
}

async function call(srv: TestServer, who: Persona, path: string, init: { method?: string; json?: unknown } = {}): Promise<Answer> {
  const res = await srv.api(path, { ...init, token: who.token });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** The branch head of a bare repository: commit, parent, author, committer, subject. */
function headOf(bare: string, ref = "main") {
  const [commit, parent, author, committer, subject] = git(["log", "-1", "--format=%H%n%P%n%an <%ae>%n%cn <%ce>%n%s", ref], { cwd: bare }).split("\n");
  return { commit: commit!, parent: parent!, author: author!, committer: committer!, subject: subject! };
}
const fileIn = (bare: string, path: string, ref = "main") => git(["show", `${ref}:${path}`], { cwd: bare }) + "\n";
const commitCount = (bare: string) => Number(git(["rev-list", "--count", "main"], { cwd: bare }));

/**
 * The tests of a describe tell one story: each runs the ones before it first (once), so in any order
 * (bun test --randomize) the story runs in its order, as test/agent.test.ts does.
 */
function story() {
  const steps: (() => Promise<void>)[] = [];
  const reached: Promise<void>[] = [];
  const reach = (i: number): Promise<void> => (reached[i] ??= (i > 0 ? reach(i - 1) : Promise.resolve()).then(steps[i]!));
  return (name: string, fn: () => Promise<void>) => {
    const i = steps.push(fn) - 1;
    test(name, () => reach(i), 120_000);
  };
}

/**
 * No periodic sync in these stories: one could apply bob's push between his push and alice's edit
 * (the scheduler syncs a new connection within a second). Syncs here are the ones the tests ask for.
 */
function noPeriodicSyncs(srv: TestServer) {
  srv.db.query("UPDATE gitops_status SET next_sync_at = ?").run(Date.now() + 86_400_000);
}

describe("write-back over file://", () => {
  const step = story();
  let srv: TestServer;
  let alice: Persona;
  let bare: string;
  let bob: WorkTree;
  const api = (path: string, init?: { method?: string; json?: unknown }) => call(srv, alice, path, init);
  const connect = async (writeBack: boolean, over: object = {}) => {
    const r = await api("/api/v1/gitops", { method: "PUT", json: { url: `file://${bare}`, write_back: writeBack, ...over } });
    noPeriodicSyncs(srv);
    return r;
  };

  beforeAll(async () => {
    srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
    alice = await persona(srv.db, "alice", "acme", "owner");
    bare = bareRepo();
    bob = workTree(bare);
    bob.write("production/backup.yaml", `# The nightly backup: ask ops before changing it.\n${manifest("backup", "@daily")}`);
    bob.write("staging/all.yaml", `${manifest("report", "@daily")}---\n# the cleanup job\n${manifest("cleanup", "@hourly")}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-ours\n`);
    bob.write("staging/last.yaml", manifest("extra", "@weekly"));
    bob.commit("Add jobs");
    bob.push();
    expect((await connect(false)).status).toBe(200);
    expect((await api("/api/v1/gitops/sync", { method: "POST" })).body.state).toBe("ok");
  });
  afterAll(async () => {
    await srv.close();
  });

  step("with write_back off, an edit of a git-managed job is 409 managed_by_git and nothing is committed", async () => {
    const before = commitCount(bare);
    const r = await api("/api/v1/jobs/production/backup", { method: "PUT", json: { schedule: "@weekly" } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("managed_by_git");
    expect((await api("/api/v1/jobs/production/backup", { method: "DELETE" })).status).toBe(409);
    expect(commitCount(bare)).toBe(before);
    expect((await api("/api/v1/jobs/production/backup")).body.schedule).toBe("@daily");
  });

  step("with write_back on, a PUT becomes a commit by the token's name, committed by Crontopus, and the job shows it after", async () => {
    await connect(true);
    const parent = headOf(bare).commit;
    const r = await api("/api/v1/jobs/production/backup", { method: "PUT", json: { schedule: "@weekly", command: "/usr/local/bin/backup" } });
    expect(r.status).toBe(200);
    const head = headOf(bare);
    expect(r.body.write_back).toEqual({ commit: head.commit, path: "production/backup.yaml", branch: "main", sync: { state: "ok", message: null } });
    expect(head).toMatchObject({ parent, author: "alice-test <alice@example.com>", committer: "Crontopus <crontopus@127.0.0.1>", subject: "Update job production/backup" });
    // The repository's form: the header comment stays, the namespace stays left to the directory.
    const text = fileIn(bare, "production/backup.yaml");
    expect(text).toStartWith("# The nightly backup: ask ops before changing it.\napiVersion: crontopus/v1\n");
    expect(text).toContain('schedule: "@weekly"');
    expect(text).toContain("command: /usr/local/bin/backup");
    expect(text).not.toContain("namespace:");
    // Applied by the sync of that commit.
    expect(r.body).toMatchObject({ schedule: "@weekly", command: "/usr/local/bin/backup", changed: true, source: { path: "production/backup.yaml", commit: head.commit } });
    expect((await api("/api/v1/jobs/production/backup")).body.source.commit).toBe(head.commit);
    const sync = (await api("/api/v1/gitops/syncs?limit=1")).body.syncs[0];
    expect(sync).toMatchObject({ commit: head.commit, trigger: "write_back", state: "ok", author: "alice-test <alice@example.com>", message: "Update job production/backup" });
    expect((await api("/api/v1/gitops/status")).body).toMatchObject({ state: "ok", commit: head.commit });
  });

  step("a PATCH of a job in a file of several documents rewrites only its document", async () => {
    const before = fileIn(bare, "staging/all.yaml");
    const r = await api("/api/v1/jobs/staging/cleanup", { method: "PATCH", json: { grace: "15m" } });
    expect(r.status).toBe(200);
    expect(r.body.grace).toBe(900);
    const after = fileIn(bare, "staging/all.yaml");
    const [report, cleanup, other] = after.split("---\n");
    expect(report).toBe(before.split("---\n")[0]!);
    expect(other).toBe(before.split("---\n")[2]!);
    expect(cleanup).toStartWith("# the cleanup job\napiVersion: crontopus/v1\n");
    expect(cleanup).toContain("grace: 15m");
    expect((await api("/api/v1/jobs/staging/report")).body.source.commit).toBe(headOf(bare).commit);
  });

  step("the same spec commits nothing; a pause is a runtime override, never committed", async () => {
    const before = commitCount(bare);
    const same = await api("/api/v1/jobs/staging/cleanup", { method: "PATCH", json: { grace: "15m" } });
    expect(same.body).toMatchObject({ changed: false, grace: 900 });
    expect(same.body.write_back).toBeUndefined();
    const paused = await api("/api/v1/jobs/staging/cleanup", { method: "PATCH", json: { paused: true } });
    expect(paused.body).toMatchObject({ changed: true, paused: true });
    expect(commitCount(bare)).toBe(before);
    expect(fileIn(bare, "staging/all.yaml")).not.toContain("paused: true");
  });

  step("a bad document is a 422 naming the field, before anything is fetched or committed", async () => {
    const before = commitCount(bare);
    const r = await api("/api/v1/jobs/staging/cleanup", { method: "PATCH", json: { schedule: "every now and then" } });
    expect(r.status).toBe(422);
    expect(r.body.error.message).toStartWith("schedule:");
    expect(commitCount(bare)).toBe(before);
  });

  step("a change upstream that is not synced yet is a 409 write_back_conflict naming the file and the commit; nothing changes", async () => {
    bob.git(["pull", "--quiet", "--ff-only", "origin", "main"]);
    bob.write("production/backup.yaml", manifest("backup", "@monthly"));
    const upstream = bob.commit("Bob: monthly backups");
    bob.push();
    const r = await api("/api/v1/jobs/production/backup", { method: "PATCH", json: { timezone: "Europe/Berlin" } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("write_back_conflict");
    expect(r.body.error.details).toEqual({ path: "production/backup.yaml", upstream_commit: upstream });
    expect(r.body.error.message).toContain("production/backup.yaml");
    expect(headOf(bare).commit).toBe(upstream);
    // The console keeps the form, with why.
    const page = new FormClient(srv.url);
    await page.login(alice.email, PASSWORD);
    await page.get("/jobs/production/backup/edit");
    const form = await page.post("/jobs/production/backup/edit", { tab: "yaml", yaml: manifest("backup", "@weekly", "  namespace: production\n").replace("spec:\n", "spec:\n  timezone: Europe/Berlin\n") });
    expect(form.r.status).toBe(422);
    expect(form.html).toContain("changed in production/backup.yaml at " + upstream.slice(0, 12) + ", which is not synced yet");
    expect(headOf(bare).commit).toBe(upstream);
    const job = (await api("/api/v1/jobs/production/backup")).body;
    expect(job).toMatchObject({ schedule: "@weekly", timezone: "UTC" });
    // Once synced, the same change goes through on top of bob's commit.
    expect((await api("/api/v1/gitops/sync", { method: "POST" })).body.state).toBe("ok");
    const again = await api("/api/v1/jobs/production/backup", { method: "PATCH", json: { timezone: "Europe/Berlin" } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ schedule: "@monthly", timezone: "Europe/Berlin" });
    expect(headOf(bare).parent).toBe(upstream);
  });

  step("a DELETE removes the job's document (its file when it held only that job), and the job goes even with prune off", async () => {
    const del = await api("/api/v1/jobs/staging/cleanup", { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ namespace: "staging", name: "cleanup", deleted: true, write_back: { path: "staging/all.yaml", sync: { state: "ok" } } });
    expect(headOf(bare).subject).toBe("Delete job staging/cleanup");
    const text = fileIn(bare, "staging/all.yaml");
    expect(text).not.toContain("cleanup");
    expect(text).toContain("name: report");
    expect(text).toContain("name: not-ours");
    expect((await api("/api/v1/jobs/staging/cleanup")).status).toBe(404);

    const last = await api("/api/v1/jobs/staging/extra", { method: "DELETE" });
    expect(last.status).toBe(200);
    expect(git(["ls-tree", "-r", "--name-only", "main"], { cwd: bare }).split("\n")).not.toContain("staging/last.yaml");
    const status = (await api("/api/v1/gitops/status")).body;
    expect(status).toMatchObject({ state: "ok", plan: { orphan: 0 } });
    expect((await api("/api/v1/jobs")).body.jobs.map((j: { name: string }) => j.name).sort()).toEqual(["backup", "report"]);
  });

  step("the console's edit commits as the signed-in user, and the CLI's apply and delete say the commit", async () => {
    const page = new FormClient(srv.url);
    await page.login(alice.email, PASSWORD);
    await page.get("/jobs/staging/report/edit");
    const yaml = manifest("report", "@daily", "  namespace: staging\n").replace("spec:\n", "spec:\n  command: make report\n");
    const { r } = await page.post("/jobs/staging/report/edit", { tab: "yaml", yaml });
    expect(r.status).toBe(303);
    expect(headOf(bare)).toMatchObject({ author: "Alice <alice@example.com>", committer: "Crontopus <crontopus@127.0.0.1>" });
    expect((await api("/api/v1/jobs/staging/report")).body.command).toBe("make report");
    const { html } = await page.get(r.headers.get("location")!);
    expect(html).toContain(`Committed ${headOf(bare).commit.slice(0, 7)} to main (staging/all.yaml).`);

    const home = tempDir("crontopus-wb-cli-");
    const env = { HOME: home, XDG_CONFIG_HOME: "", CRONTOPUS_CONFIG: join(home, "none.json"), CRONTOPUS_URL: srv.url, CRONTOPUS_TOKEN: alice.token };
    const file = join(home, "report.yaml");
    await Bun.write(file, manifest("report", "@hourly", "  namespace: staging\n"));
    const applied = await cli(["jobs", "apply", "-f", file], env);
    expect(applied.stderr).toBe("");
    expect(applied.stdout.trim()).toBe(`job staging/report configured (committed ${headOf(bare).commit.slice(0, 7)} to main)`);
    expect(fileIn(bare, "staging/all.yaml")).toContain('schedule: "@hourly"');
    const deleted = await cli(["jobs", "delete", "staging/report"], env);
    expect(deleted.stdout.trim()).toBe(`job staging/report deleted (committed ${headOf(bare).commit.slice(0, 7)} to main)`);
    expect(fileIn(bare, "staging/all.yaml")).toBe("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-ours\n");
  });

  step("deleting the last job below the path is refused with a clear 409: a sync would never apply it", async () => {
    // Below production/ the file backup.yaml is the job default/backup (the namespace is the first directory below the path).
    await connect(true, { path: "production" });
    const synced = (await api("/api/v1/gitops/sync", { method: "POST" })).body;
    expect(synced.plan.create).toEqual([{ namespace: "default", name: "backup", path: "production/backup.yaml" }]);
    const before = commitCount(bare);
    const r = await api("/api/v1/jobs/default/backup", { method: "DELETE" });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("write_back_refused");
    expect(r.body.error.message).toContain("default/backup is the last job below production");
    expect(r.body.error.details).toEqual({ path: "production/backup.yaml" });
    expect(commitCount(bare)).toBe(before);
    expect((await api("/api/v1/jobs/default/backup")).status).toBe(200);
  });
});

describe("write-back over http with a token (git http-backend), with bob pushing at the same time", () => {
  const step = story();
  const TOKEN = "ghp_acme_write_token_0123456789";
  let srv: TestServer;
  let alice: Persona;
  let bare: string;
  let http: GitHttpServer;
  let bob: WorkTree;
  /** What bob does the next time a client starts a push, once. */
  let onPush: (() => void) | null = null;
  const api = (path: string, init?: { method?: string; json?: unknown }) => call(srv, alice, path, init);
  const pushStarts = () => http.requests.filter((r) => r.path.endsWith("/info/refs?service=git-receive-pack")).length;

  beforeAll(async () => {
    srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
    alice = await persona(srv.db, "alice", "acme", "owner");
    bare = bareRepo();
    bob = workTree(bare);
    bob.write("production/backup.yaml", manifest("backup", "@daily"));
    bob.write("production/report.yaml", manifest("report", "@daily"));
    bob.commit("Add jobs");
    bob.push();
    http = gitHttpServer(bare, {
      token: TOKEN,
      before: ({ path }) => {
        if (!path.endsWith("/info/refs?service=git-receive-pack") || !onPush) return;
        const push = onPush;
        onPush = null;
        push();
      },
    });
    const connected = await api("/api/v1/gitops", { method: "PUT", json: { url: http.url, token: TOKEN, write_back: true } });
    expect(connected.status).toBe(200);
    noPeriodicSyncs(srv);
    expect((await api("/api/v1/gitops/sync", { method: "POST" })).body.state).toBe("ok");
  });
  afterAll(async () => {
    await srv.close();
    http.stop();
  });

  /** Bob, in his own clone: brings it up to date, writes, commits and pushes (over file://, not through the server above). */
  const bobPushes = (path: string, text: string, message: string) => {
    bob.git(["pull", "--quiet", "--ff-only", "origin", "main"]);
    bob.write(path, text);
    const sha = bob.commit(message, { author: "Bob <bob@example.com>" });
    bob.push();
    return sha;
  };

  step("an edit is pushed with the token and applied", async () => {
    const r = await api("/api/v1/jobs/production/backup", { method: "PATCH", json: { schedule: "@weekly" } });
    expect(r.status).toBe(200);
    expect(r.body.write_back.commit).toBe(headOf(bare).commit);
    expect(r.body).toMatchObject({ schedule: "@weekly", source: { commit: headOf(bare).commit } });
    expect(headOf(bare).author).toBe("alice-test <alice@example.com>");
    expect(http.requests.filter((q) => q.path.endsWith("/git-receive-pack")).every((q) => q.status === 200 && q.authorization === `Basic ${btoa(`x-access-token:${TOKEN}`)}`)).toBe(true);
  });

  step("bob's push to another file first: the push is rejected, made again once on his commit, and succeeds", async () => {
    let bobs = "";
    onPush = () => (bobs = bobPushes("production/new.yaml", manifest("new", "@hourly"), "Bob: add new"));
    const starts = pushStarts();
    const r = await api("/api/v1/jobs/production/backup", { method: "PATCH", json: { command: "/bin/backup" } });
    expect(r.status).toBe(200);
    expect(pushStarts() - starts).toBe(2);
    const head = headOf(bare);
    expect(head.parent).toBe(bobs);
    expect(r.body.write_back.commit).toBe(head.commit);
    expect(r.body).toMatchObject({ command: "/bin/backup", source: { commit: head.commit } });
    // The sync of the commit applied bob's file too.
    expect((await api("/api/v1/jobs/production/new")).body.source.commit).toBe(head.commit);
    expect(fileIn(bare, "production/new.yaml")).toBe(manifest("new", "@hourly"));
  });

  step("bob's push changing the same file first: 409 write_back_conflict naming the file and his commit; the job unchanged, no extra commit", async () => {
    let bobs = "";
    onPush = () => (bobs = bobPushes("production/report.yaml", manifest("report", "@monthly"), "Bob: monthly report"));
    const before = commitCount(bare);
    const job = (await api("/api/v1/jobs/production/report")).body;
    const r = await api("/api/v1/jobs/production/report", { method: "PUT", json: { schedule: "@weekly" } });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: "write_back_conflict", details: { path: "production/report.yaml", upstream_commit: bobs } });
    expect(r.body.error.message).toContain("production/report.yaml changed on main in " + bobs.slice(0, 12));
    expect(commitCount(bare)).toBe(before + 1);
    expect(headOf(bare).commit).toBe(bobs);
    const after = (await api("/api/v1/jobs/production/report")).body;
    expect(after).toMatchObject({ schedule: job.schedule, updated_at: job.updated_at, source: job.source });
  });

  step("a token the forge refuses is a 502 write_back_failed with git's words (never the token), and nothing changes", async () => {
    expect((await api("/api/v1/gitops/sync", { method: "POST" })).body.state).toBe("ok");
    expect((await api("/api/v1/gitops", { method: "PUT", json: { url: http.url, token: "ghp_wrong", write_back: true } })).status).toBe(200);
    const before = commitCount(bare);
    const r = await api("/api/v1/jobs/production/report", { method: "PATCH", json: { grace: "1h" } });
    expect(r.status).toBe(502);
    expect(r.body.error.code).toBe("write_back_failed");
    expect(r.body.error.message).not.toContain("ghp_wrong");
    expect(commitCount(bare)).toBe(before);
    expect((await api("/api/v1/jobs/production/report")).body.grace).toBe(300);
  });
});
