// `crontopus gitops` as a user runs it, against a live server and a real bare repository.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { manifest, TestRepo } from "./gitops-repo";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pinGitopsHostKeys } from "../src/gitops/settings";
import { makeDeployKey } from "../src/gitops/sshkey";
import { cli, persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";

let srv: TestServer;
let alice: Persona;
let repo: TestRepo;
const env = () => ({ CRONTOPUS_URL: srv.url, CRONTOPUS_TOKEN: alice.token });

beforeAll(async () => {
  srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
  alice = await persona(srv.db, "alice", "acme", "owner");
  repo = new TestRepo();
  repo.commit("first", { "production/backup.yaml": manifest("backup") });
});
afterAll(async () => {
  await srv.close();
  repo.close();
});

/**
 * Until the scheduler's first periodic sync of a new connection (due at once) has run: after it,
 * with a long interval, no sync runs behind the test's back.
 */
async function firstPeriodicSync(token: string): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const s = await (await srv.api("/api/v1/gitops/status", { token })).json();
    if (s.next_sync_at !== null && s.state !== "syncing") return;
    if (Date.now() > until) throw new Error(`no periodic sync: ${JSON.stringify(s)}`);
    await Bun.sleep(20);
  }
}

describe("crontopus gitops", () => {
  test("set, get, plan --exit-code, sync, then plan has no changes, and disconnect", async () => {
    let r = await cli(["gitops", "set", repo.url, "--branch", "main", "--interval", "1h"], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("interval        1h");
    r = await cli(["gitops", "get", "--json"], env());
    expect(JSON.parse(r.stdout)).toMatchObject({ url: repo.url, branch: "main", prune: false });
    // The first periodic sync applies what is there; the plan is of the commit after it.
    await firstPeriodicSync(alice.token);
    repo.commit("add report", { "production/report.yaml": manifest("report") });
    r = await cli(["gitops", "plan", "--exit-code"], env());
    expect(r.stdout).toContain("+ create production/report (production/report.yaml)");
    expect(r.code).toBe(2);
    r = await cli(["gitops", "sync"], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("state: ok");
    r = await cli(["gitops", "plan", "--exit-code"], env());
    expect(r.code).toBe(0);
    repo.commit("broken", { "production/bad.yaml": "apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: bad\nspec: {}\n" });
    r = await cli(["gitops", "plan", "--exit-code"], env());
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("! error production/bad.yaml");
    r = await cli(["gitops", "disconnect"], env());
    expect(r.code).toBe(0);
    expect((await cli(["gitops", "get"], env())).code).toBe(1);
  });

  test("deploy-key prints the public key to add on the forge; get shows it and each host key, marked when pinned on first use", async () => {
    const ivy = await persona(srv.db, "ivy", "ivyco", "owner");
    const viewer = await persona(srv.db, "vic", "ivyco", "viewer");
    const as = (p: Persona) => ({ CRONTOPUS_URL: srv.url, CRONTOPUS_TOKEN: p.token });
    const url = "ssh://git@127.0.0.1:2222/ivyco/jobs.git";
    expect((await cli(["gitops", "set", url], as(ivy))).code).toBe(0);

    let r = await cli(["gitops", "deploy-key"], as(ivy));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ crontopus@ivyco\n$/);
    expect(r.stderr).toContain("Add it to the repository's deploy keys");
    const publicKey = r.stdout.trim();
    r = await cli(["gitops", "get"], as(ivy));
    expect(r.stdout).toContain(`credentials     ssh key\n`);
    expect(r.stdout).toContain(`ssh_public_key  ${publicKey}\n`);
    expect(r.stdout).not.toContain("ssh_host_key");

    // The first fetch pins the host's key: get says so, with the fingerprint the forge publishes.
    const hostKey = makeDeployKey("").publicKey.trim();
    const fingerprint = Bun.spawnSync(["ssh-keygen", "-l", "-f", "/dev/stdin"], { stdin: new TextEncoder().encode(`${hostKey}\n`) }).stdout.toString().split(" ")[1]!;
    const tenantId = srv.db.query<{ tenant_id: string }, [string]>("SELECT tenant_id FROM gitops_settings WHERE url = ?").get(url)!.tenant_id;
    pinGitopsHostKeys(srv.db, tenantId, url, [`[127.0.0.1]:2222 ${hostKey}`], Date.parse("2026-12-01T10:00:00Z"));
    r = await cli(["gitops", "get"], as(viewer));
    expect(r.stdout).toContain(`ssh_host_key    [127.0.0.1]:2222 ssh-ed25519 ${fingerprint} (pinned on first use at 2026-12-01T10:00:00.000Z)\n`);
    expect(r.stdout).toContain(`ssh_public_key  ${publicKey}\n`);

    // Host keys given from a file are shown as given.
    const file = join(tempDir(), "known_hosts");
    writeFileSync(file, `[127.0.0.1]:2222 ${hostKey}\n`);
    r = await cli(["gitops", "set", url, "--known-hosts-file", file], as(ivy));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ssh_host_key    [127.0.0.1]:2222 ssh-ed25519 ${fingerprint}\n`);

    r = await cli(["gitops", "deploy-key"], as(viewer));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    r = await cli(["gitops", "set", url, "--known-hosts-file", join(tempDir(), "missing")], as(ivy));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--known-hosts-file: cannot read");
    expect((await cli(["gitops", "set", "https://git.example.com/ivyco/jobs.git"], as(ivy))).code).toBe(0);
    r = await cli(["gitops", "deploy-key"], as(ivy));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("url: is not an ssh remote");
  });
});
