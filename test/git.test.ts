// The Git test infrastructure itself: if these fail, every GitOps test built on them means nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./helpers";
import { bareRepo, git, gitAsync, gitHttpServer, sshCommand, sshdUnavailable, sshKeyPair, sshServer, tryGit, tryGitAsync, workTree, type GitHttpServer, type SshServer } from "./git";

const MANIFEST = (name: string) => `apiVersion: crontopus/v1\nkind: Job\nmetadata:\n  name: ${name}\nspec:\n  schedule: "*/5 * * * *"\n`;

describe("bare repositories and working trees", () => {
  test("commits that add, change, rename and delete files reach the bare repository as they were made", () => {
    const bare = bareRepo();
    const alice = workTree(bare);
    alice.write("production/backup.yaml", MANIFEST("backup"));
    alice.write("staging/report.yml", MANIFEST("report"));
    const first = alice.commit("Add backup and report");
    alice.push();
    expect(git(["rev-parse", "refs/heads/main"], { cwd: bare })).toBe(first);
    expect(git(["ls-tree", "-r", "--name-only", "main"], { cwd: bare }).split("\n")).toEqual(["production/backup.yaml", "staging/report.yml"]);

    alice.write("production/backup.yaml", MANIFEST("backup").replace("*/5", "0"));
    alice.mv("staging/report.yml", "staging/reports/daily.yml");
    alice.commit("Change backup, move report");
    alice.rm("production/backup.yaml");
    const last = alice.commit("Remove backup", { author: "Bob Builder <bob@example.com>" });
    alice.push();

    expect(git(["ls-tree", "-r", "--name-only", "main"], { cwd: bare })).toBe("staging/reports/daily.yml");
    expect(git(["log", "-1", "--format=%an <%ae>|%s", "main"], { cwd: bare })).toBe("Bob Builder <bob@example.com>|Remove backup");
    expect(git(["rev-list", "--count", "main"], { cwd: bare })).toBe("3");
    expect(git(["diff", "--name-status", "-M", `${first}`, `${last}~1`], { cwd: bare }).split("\n")).toContain("R100\tstaging/report.yml\tstaging/reports/daily.yml");
  });

  test("a second clone sees the first one's pushes, and a force push of an empty tree replaces the branch", () => {
    const bare = bareRepo();
    const alice = workTree(bare);
    alice.write("backup.yaml", MANIFEST("backup"));
    alice.commit("Add backup");
    alice.push();

    const bob = workTree(bare);
    expect(readFileSync(join(bob.dir, "backup.yaml"), "utf8")).toBe(MANIFEST("backup"));
    const empty = bob.forcePushEmpty();
    expect(git(["rev-parse", "refs/heads/main"], { cwd: bare })).toBe(empty);
    expect(git(["ls-tree", "-r", "main"], { cwd: bare })).toBe("");
    // The old commit is no ancestor: a plain push from alice's tree is now rejected.
    alice.write("report.yaml", MANIFEST("report"));
    alice.commit("Add report");
    expect(() => alice.push()).toThrow(/rejected|non-fast-forward|fetch first/);
    expect(readdirSync(bob.dir)).toEqual([".git"]);
  });

  test("a tree on another branch pushes there and leaves main alone", () => {
    const bare = bareRepo();
    const alice = workTree(bare);
    alice.write("backup.yaml", MANIFEST("backup"));
    const main = alice.commit("Add backup");
    alice.push();
    const feature = workTree(bare, { branch: "feature" });
    expect(existsSync(join(feature.dir, "backup.yaml"))).toBe(true);
    feature.write("report.yaml", MANIFEST("report"));
    const sha = feature.commit("Add report");
    feature.push();
    expect(git(["rev-parse", "refs/heads/main"], { cwd: bare })).toBe(main);
    expect(git(["rev-parse", "refs/heads/feature"], { cwd: bare })).toBe(sha);
  });
});

describe("git http-backend with a token", () => {
  const TOKEN = "ghp_alicesecrettoken0123456789";
  let bare: string;
  let server: GitHttpServer;
  let head: string;
  beforeAll(() => {
    bare = bareRepo();
    const alice = workTree(bare);
    alice.write("production/backup.yaml", MANIFEST("backup"));
    head = alice.commit("Add backup");
    alice.push();
    server = gitHttpServer(bare, { token: TOKEN });
  });
  afterAll(() => server.stop());

  test("git clone with the token in http.extraHeader (Bearer) gets the branch", async () => {
    const dir = join(tempDir(), "clone");
    await gitAsync(["-c", `http.extraHeader=Authorization: Bearer ${TOKEN}`, "clone", "--quiet", "--depth=1", "--branch=main", server.url, dir]);
    expect(git(["rev-parse", "HEAD"], { cwd: dir })).toBe(head);
    expect(readFileSync(join(dir, "production/backup.yaml"), "utf8")).toBe(MANIFEST("backup"));
    expect(server.requests.filter((r) => r.authorization === `Bearer ${TOKEN}`).length).toBeGreaterThan(0);
  });

  test("git ls-remote with the token as the password of an x-access-token URL answers the branch (Basic after a 401 challenge)", async () => {
    const before = server.requests.length;
    const url = server.url.replace("http://", `http://x-access-token:${TOKEN}@`);
    expect(await gitAsync(["ls-remote", url, "refs/heads/main"])).toBe(`${head}\trefs/heads/main`);
    const seen = server.requests.slice(before);
    expect(seen[0]).toMatchObject({ status: 401, authorization: null });
    expect(seen.some((r) => r.status === 200 && r.authorization === `Basic ${btoa(`x-access-token:${TOKEN}`)}`)).toBe(true);
  });

  test("without a token, or with a wrong one, git clone and git ls-remote fail with 401", async () => {
    const before = server.requests.length;
    const none = await tryGitAsync(["ls-remote", server.url]);
    expect(none.ok).toBe(false);
    const wrong = await tryGitAsync(["-c", "http.extraHeader=Authorization: Bearer not-the-token", "clone", "--quiet", server.url, join(tempDir(), "clone")]);
    // git asks for a user name after the 401 and, with prompts off, gives up: the 401s are in the server's log below.
    expect(wrong.ok).toBe(false);
    expect(wrong.stderr).toMatch(/could not read Username|401/);
    const wrongBasic = await tryGitAsync(["ls-remote", server.url.replace("http://", "http://x-access-token:nope@")]);
    expect(wrongBasic.ok).toBe(false);
    expect(wrongBasic.stderr).toMatch(/Authentication failed/);
    const seen = server.requests.slice(before);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((r) => r.status === 401)).toBe(true);
  });

  test("a push with the token reaches the bare repository (write-back goes this way)", async () => {
    const dir = join(tempDir(), "clone");
    const auth = ["-c", `http.extraHeader=Authorization: Bearer ${TOKEN}`];
    await gitAsync([...auth, "clone", "--quiet", server.url, dir]);
    writeFileSync(join(dir, "report.yaml"), MANIFEST("report"));
    git(["add", "report.yaml"], { cwd: dir });
    git(["commit", "--quiet", "-m", "Add report"], { cwd: dir });
    // To a branch of its own: main stays the head the other tests read.
    await gitAsync([...auth, "push", "--quiet", "origin", "HEAD:refs/heads/write-back"], { cwd: dir });
    expect(git(["rev-parse", "refs/heads/write-back"], { cwd: bare })).toBe(git(["rev-parse", "HEAD"], { cwd: dir }));
    const pushWithout = await tryGitAsync(["push", "origin", "HEAD:refs/heads/other"], { cwd: dir });
    expect(pushWithout.ok).toBe(false);
  });
});

describe("git http-backend over https", () => {
  const TOKEN = "glpat-alicesecret";
  let bare: string;
  let server: GitHttpServer;
  let head: string;
  beforeAll(() => {
    bare = bareRepo();
    const alice = workTree(bare);
    alice.write("backup.yaml", MANIFEST("backup"));
    head = alice.commit("Add backup");
    alice.push();
    server = gitHttpServer(bare, { token: TOKEN, tls: true });
  });
  afterAll(() => server.stop());

  test("git ls-remote trusting the server's own certificate (http.sslCAInfo) answers the branch; without it, the certificate is refused", async () => {
    expect(server.url).toStartWith("https://127.0.0.1:");
    const auth = ["-c", `http.extraHeader=Authorization: Bearer ${TOKEN}`];
    expect(await gitAsync(["-c", `http.sslCAInfo=${server.caFile}`, ...auth, "ls-remote", server.url, "refs/heads/main"])).toBe(`${head}\trefs/heads/main`);
    const untrusted = await tryGitAsync([...auth, "ls-remote", server.url]);
    expect(untrusted.ok).toBe(false);
    expect(untrusted.stderr).toMatch(/certificate|SSL/i);
  });
});

const noSshd = sshdUnavailable();
if (noSshd) console.warn(`skipping the sshd tests: ${noSshd}`);

describe.skipIf(noSshd !== null)("a local sshd with one authorized key", () => {
  let bare: string;
  let head: string;
  let key: ReturnType<typeof sshKeyPair>;
  let server: SshServer;
  let knownHosts: string;
  beforeAll(async () => {
    bare = bareRepo();
    const alice = workTree(bare);
    alice.write("backup.yaml", MANIFEST("backup"));
    head = alice.commit("Add backup");
    alice.push();
    key = sshKeyPair("crontopus deploy key");
    server = await sshServer({ authorizedKey: key.publicKey });
    knownHosts = join(tempDir(), "known_hosts");
    writeFileSync(knownHosts, `${server.hostKeyLine}\n`);
  });
  afterAll(() => server?.stop());

  test("the URL and host key line have the shapes git and known_hosts expect", () => {
    expect(server.url(bare)).toBe(`ssh://${server.user}@127.0.0.1:${server.port}${bare}`);
    expect(server.hostKeyLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${server.port} ssh-ed25519 AAAA\\S+$`));
  });

  test("git ls-remote and a shallow clone over ssh work with the authorized key and the pinned host key", () => {
    const env = { GIT_SSH_COMMAND: sshCommand(key.privateKeyPath, knownHosts) };
    expect(git(["ls-remote", server.url(bare), "refs/heads/main"], { env })).toBe(`${head}\trefs/heads/main`);
    const dir = join(tempDir(), "clone");
    git(["clone", "--quiet", "--depth=1", server.url(bare), dir], { env });
    expect(readFileSync(join(dir, "backup.yaml"), "utf8")).toBe(MANIFEST("backup"));
  });

  test("another key is refused", () => {
    const other = sshKeyPair("charlie");
    const r = tryGit(["ls-remote", server.url(bare)], { env: { GIT_SSH_COMMAND: sshCommand(other.privateKeyPath, knownHosts) } });
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain("Permission denied");
  });

  test("an empty known_hosts refuses the server, even with the right key", () => {
    const empty = join(tempDir(), "known_hosts");
    writeFileSync(empty, "");
    const r = tryGit(["ls-remote", server.url(bare)], { env: { GIT_SSH_COMMAND: sshCommand(key.privateKeyPath, empty) } });
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain("Host key verification failed");
  });

  test("changeHostKey restarts sshd on the same port with another host key: the old known_hosts line is refused, the new one accepted", async () => {
    const before = server.hostKeyLine;
    await server.changeHostKey();
    expect(server.hostKeyLine).not.toBe(before);
    expect(server.hostKeyLine).toStartWith(`[127.0.0.1]:${server.port} ssh-ed25519 `);
    const old = await tryGitAsync(["ls-remote", server.url(bare)], { env: { GIT_SSH_COMMAND: sshCommand(key.privateKeyPath, knownHosts) } });
    expect(old.ok).toBe(false);
    expect(old.stderr).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
    writeFileSync(knownHosts, `${server.hostKeyLine}\n`);
    expect(await gitAsync(["ls-remote", server.url(bare), "refs/heads/main"], { env: { GIT_SSH_COMMAND: sshCommand(key.privateKeyPath, knownHosts) } })).toBe(`${head}\trefs/heads/main`);
  });

  test("authorize makes another key the accepted one from the next login on, without a restart", async () => {
    const other = sshKeyPair("a new deploy key");
    const withOther = { GIT_SSH_COMMAND: sshCommand(other.privateKeyPath, knownHosts) };
    expect((await tryGitAsync(["ls-remote", server.url(bare)], { env: withOther })).ok).toBe(false);
    server.authorize(other.publicKey);
    try {
      expect(await gitAsync(["ls-remote", server.url(bare), "refs/heads/main"], { env: withOther })).toBe(`${head}\trefs/heads/main`);
      expect((await tryGitAsync(["ls-remote", server.url(bare)], { env: { GIT_SSH_COMMAND: sshCommand(key.privateKeyPath, knownHosts) } })).stderr).toContain("Permission denied");
    } finally {
      server.authorize(key.publicKey);
    }
  });

  test("a known_hosts pinning another host key refuses the server", () => {
    const otherHost = sshKeyPair("another host");
    const wrong = join(tempDir(), "known_hosts");
    const [type, data] = otherHost.publicKey.split(/\s+/);
    writeFileSync(wrong, `[127.0.0.1]:${server.port} ${type} ${data}\n`);
    const r = tryGit(["ls-remote", server.url(bare)], { env: { GIT_SSH_COMMAND: sshCommand(key.privateKeyPath, wrong) } });
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });
});
