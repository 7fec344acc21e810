// GitOps end to end, from a commit to a host's crontab: alice's acme keeps its jobs in a real bare
// repository (file://), connects it with `crontopus gitops set`, syncs with `crontopus gitops sync`,
// and an enrolled agent, run as its systemd unit runs it (empty environment, `agent run --once`),
// writes the line into a host user's crontab with the real `crontab` binary. Removing the manifest
// with prune on removes the job and then the line; the user's own lines are never touched.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";
import { bare, crontabOf, ensureUser, installCrontab, lockUser, managedLines } from "./crontab-users";
import { TestRepo } from "./gitops-repo";
import { story } from "./steps";

const root = process.getuid?.() === 0;
const hasCrontab = spawnSync("sh", ["-c", "command -v crontab"]).status === 0;
const hasGit = spawnSync("sh", ["-c", "command -v git"]).status === 0;
const USER = "crontopus-e2e-gitops";

const USER_LINES = ["# the host's own jobs: no sync may change these", "MAILTO=ops@example.com", "0 5 * * * /usr/bin/nightly-report", ""].join("\n");

/** A manifest as a user writes it: the namespace comes from its directory. */
function jobManifest(name: string, o: { schedule: string; command: string; role: string }): string {
  return [
    "apiVersion: crontopus/v1",
    "kind: Job",
    "metadata:",
    `  name: ${name}`,
    "  labels:",
    "    team: storage",
    "spec:",
    `  schedule: "${o.schedule}"`,
    `  command: ${o.command}`,
    // Whose crontab: never root's own, whatever the test does.
    `  user: ${USER}`,
    "  agent:",
    "    selector:",
    `      role: ${o.role}`,
    "",
  ].join("\n");
}

let s: TestServer;
let alice: Persona;
let repo: TestRepo;
let agentConfig: string;
let agentId: string;
let unlock = () => {};

const api = async (path: string, init: RequestInit & { json?: unknown } = {}) => {
  const res = await s.api(path, { token: alice.token, ...init });
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as any) };
};
const crontopus = (args: string[]) => cli(args, { CRONTOPUS_URL: s.url, CRONTOPUS_TOKEN: alice.token });
const agentRun = () => bare(["agent", "run", "--once", "--config", agentConfig]);
const step = story();

describe.skipIf(!root || !hasCrontab || !hasGit)("GitOps end to end: a commit becomes a crontab line on an enrolled host", () => {
  beforeAll(async () => {
    unlock = await lockUser(USER);
    ensureUser(USER);
    installCrontab(USER, USER_LINES);
    // file:// remotes read the server's own disk: allowed here, as on a private install.
    s = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
    alice = await persona(s.db, "alice", "acme", "owner");
    repo = new TestRepo();
  }, 70_000);
  afterAll(async () => {
    spawnSync("crontab", ["-u", USER, "-r"]);
    await s?.close().catch(() => {});
    repo?.close();
    unlock();
  });

  step("an agent enrolls with the labels role=web", async () => {
    const t = await api("/api/v1/enrollment-tokens", { method: "POST", json: { name: "web servers", labels: { role: "web" } } });
    expect(t.status).toBe(201);
    const dir = tempDir("crontopus-gitops-e2e-");
    agentConfig = join(dir, "agent.json");
    const r = await cli(["agent", "enroll", "--server", s.url, "--token", t.body.token, "--name", "web1"], {
      CRONTOPUS_AGENT_CONFIG: agentConfig,
      CRONTOPUS_MACHINE_ID: `gitops-e2e-${crypto.randomUUID()}`,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const cfg = await Bun.file(agentConfig).json();
    agentId = cfg.agent_id;
    // The runs below have no environment to name a state directory in: the config does.
    writeFileSync(agentConfig, JSON.stringify({ ...cfg, state_dir: join(dir, "state") }));
  });

  step("a manifest committed to the repository becomes a job once the repository is connected and synced", async () => {
    repo.commit("Add the backup and the vacuum", {
      "production/backup.yaml": jobManifest("backup", { schedule: "*/5 * * * *", command: "/usr/local/bin/backup --full", role: "web" }),
      "production/vacuum.yaml": jobManifest("vacuum", { schedule: "0 3 * * *", command: "/usr/local/bin/vacuum", role: "db" }),
      "README.md": "# acme's cron jobs\n",
    });
    let r = await crontopus(["gitops", "set", repo.url, "--prune", "--interval", "1h"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // The scheduler may sync first (a new connection is due at once): either way this answers the commit's sync.
    r = await crontopus(["gitops", "sync"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("state: ok");
    const job = (await api("/api/v1/jobs/production/backup")).body;
    expect(job).toMatchObject({ schedule: "*/5 * * * *", command: "/usr/local/bin/backup --full", user: USER, source: { repository: repo.url, path: "production/backup.yaml" } });
    expect((await api("/api/v1/jobs/production/vacuum")).status).toBe(200);
  });

  step("agent run --once writes the job's line into the user's crontab, under the user's own lines; the job for role=db is not installed", async () => {
    const backup = (await api("/api/v1/jobs/production/backup")).body;
    const vacuum = (await api("/api/v1/jobs/production/vacuum")).body;
    const r = await agentRun();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const text = crontabOf(USER);
    expect(text.startsWith(USER_LINES)).toBe(true);
    const lines = managedLines(text);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^\\*/5 \\* \\* \\* \\* .* exec --job ${backup.id} --state-dir \\S+ -- /usr/local/bin/backup --full$`));
    expect(text).not.toContain(vacuum.id);
    const detail = (await api(`/api/v1/agents/${agentId}`)).body;
    expect(detail.jobs).toEqual([expect.objectContaining({ job_id: backup.id, job: "production/backup", state: "applied" })]);
  });

  step("a changed schedule in a new commit changes the line and keeps the job", async () => {
    const before = (await api("/api/v1/jobs/production/backup")).body;
    repo.commit("Back up at half past four", {
      "production/backup.yaml": jobManifest("backup", { schedule: "30 4 * * *", command: "/usr/local/bin/backup --full", role: "web" }),
    });
    const sync = await api("/api/v1/gitops/sync", { method: "POST" });
    expect(sync.body.state).toBe("ok");
    expect(sync.body.plan.update).toEqual([expect.objectContaining({ name: "backup", changes: [{ field: "schedule", from: "*/5 * * * *", to: "30 4 * * *" }] })]);
    expect((await agentRun()).code).toBe(0);
    const lines = managedLines(crontabOf(USER));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith("30 4 * * * ");
    expect(lines[0]).toContain(`exec --job ${before.id} `);
  });

  step("the manifest's removal, with prune on, deletes the job; the next pass removes its line and leaves the user's lines byte for byte", async () => {
    repo.commit("Retire the backup", { "production/backup.yaml": null });
    const r = await crontopus(["gitops", "sync"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("- delete production/backup");
    expect((await api("/api/v1/jobs/production/backup")).status).toBe(404);
    // Still a managed line until the agent's next pass: the host follows the server, not Git.
    expect(managedLines(crontabOf(USER))).toHaveLength(1);

    const run = await agentRun();
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(crontabOf(USER)).toBe(USER_LINES);
    expect((await api(`/api/v1/agents/${agentId}`)).body.jobs).toEqual([]);
    // The job for other hosts is still there, still from Git.
    expect((await api("/api/v1/jobs/production/vacuum")).body.source.path).toBe("production/vacuum.yaml");
  });
});
