// The git runner against real bare repositories over file://.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers";
import { manifest, TestRepo } from "../../test/gitops-repo";
import { explainFetchFailure, fetchHead, readManifestFiles, remoteHead, GitError, type Remote } from "./git";

const repo = new TestRepo();
const data = tempDir();
afterAll(() => {
  repo.close();
  rmSync(data, { recursive: true, force: true });
});
const remote = (over: Partial<Remote> = {}): Remote => ({ url: repo.url, branch: "main", path: "", credentials: {}, sshKnownHosts: null, allowPrivate: true, ...over });

describe("fetchHead and readManifestFiles", () => {
  test("fetch the branch head shallowly and read the manifests below the path", async () => {
    repo.commit("first", { "prod/a.yaml": manifest("a"), "prod/notes.txt": "hello", "README.md": "# jobs", "b.json": "{}" });
    const c2 = repo.commit("second job", { "prod/sub/c.yml": manifest("c") });
    const dir = join(data, "t1");
    const head = await fetchHead(dir, remote());
    expect(head).toEqual({ commit: c2, author: "Alice <alice@example.com>", message: "second job" });
    expect(existsSync(join(dir, "shallow"))).toBe(true);
    const all = await readManifestFiles(dir, head.commit, "");
    expect(all.map((f) => f.path).sort()).toEqual(["b.json", "prod/a.yaml", "prod/sub/c.yml"]);
    const prod = await readManifestFiles(dir, head.commit, "prod");
    expect(prod.map((f) => f.path).sort()).toEqual(["prod/a.yaml", "prod/sub/c.yml"]);
    expect(prod.find((f) => f.path === "prod/a.yaml")!.text).toBe(manifest("a"));
  });

  test("a missing path or branch is an error, not an empty tree", async () => {
    // Whatever ran before: the branch has a commit.
    repo.commit("something", { "prod/a.yaml": manifest("a") });
    const dir = join(data, "t2");
    repo.commit("a job in prod", { "prod/a.yaml": manifest("a") });
    const head = await fetchHead(dir, remote());
    await expect(readManifestFiles(dir, head.commit, "staging")).rejects.toThrow(/path staging does not exist/);
    await expect(fetchHead(dir, remote({ branch: "nope" }))).rejects.toThrow(GitError);
  });

  test("refuses a URL that git could take for an option, and file:// without the private-targets switch", async () => {
    await expect(fetchHead(join(data, "t3"), remote({ url: "--upload-pack=touch /tmp/pwned" }))).rejects.toThrow(/must not start with '-'/);
    await expect(fetchHead(join(data, "t3"), remote({ allowPrivate: false }))).rejects.toThrow(/CRONTOPUS_ALLOW_PRIVATE_TARGETS/);
  });

  test("an https remote on a private address is refused by the SSRF guard before git runs", async () => {
    await expect(fetchHead(join(data, "t4"), remote({ url: "https://127.0.0.1/x.git", allowPrivate: false }))).rejects.toThrow(/refused/);
  });

  // The tests below use a repository of their own: the ones above read theirs as they left it.
  const own = (fn: (r: TestRepo, at: (over?: Partial<Remote>) => Remote) => Promise<void>) => async () => {
    const r = new TestRepo();
    try {
      await fn(r, (over = {}) => remote({ url: r.url, ...over }));
    } finally {
      r.close();
    }
  };

  test("remoteHead answers the branch's commit without fetching it, and null for a branch the remote lacks", own(async (r, at) => {
    const c = r.commit("for ls-remote", { "prod/d.yaml": manifest("d") });
    // A branch whose name ends like the one asked for must not be taken for it.
    const decoy = r.commit("decoy", {});
    for (const [ref, sha] of [["refs/heads/x/refs/heads/main", decoy], ["refs/heads/main", c]]) {
      expect(Bun.spawnSync(["git", "--git-dir", r.bare, "update-ref", ref!, sha!]).exitCode).toBe(0);
    }
    const dir = join(data, "t5");
    expect(await remoteHead(dir, at())).toBe(c);
    expect(await remoteHead(dir, at({ branch: "nope" }))).toBeNull();
    // Nothing was fetched: the repository there has no FETCH_HEAD.
    expect(existsSync(join(dir, "FETCH_HEAD"))).toBe(false);
    await expect(remoteHead(dir, at({ url: "--upload-pack=touch /tmp/pwned" }))).rejects.toThrow(/must not start with '-'/);
    await expect(remoteHead(dir, at({ url: `file://${data}/missing.git` }))).rejects.toThrow(/git ls-remote failed/);
  }));

  test("readManifestFiles takes the texts it is given for known blobs, still in the tree's order", own(async (r, at) => {
    r.commit("three", { "prod/a.yaml": manifest("a"), "prod/b.yaml": manifest("b"), "prod/sub/c.yml": manifest("c") });
    const dir = join(data, "t6");
    const head = await fetchHead(dir, at());
    const fresh = await readManifestFiles(dir, head.commit, "prod");
    const a = fresh.find((f) => f.path === "prod/a.yaml")!;
    const reused = await readManifestFiles(dir, head.commit, "prod", (path, sha) => (path === a.path && sha === a.sha ? "kept text" : undefined));
    expect(reused.map((f) => f.path)).toEqual(fresh.map((f) => f.path));
    expect(reused.find((f) => f.path === a.path)!.text).toBe("kept text");
    expect(reused.filter((f) => f.path !== a.path)).toEqual(fresh.filter((f) => f.path !== a.path));
  }));

  test.skipIf(!Bun.which("nice"))("git runs at the lowest CPU priority (nice 19), so syncs yield to check-ins", own(async (r, at) => {
    r.commit("one", { "a.yaml": manifest("a") });
    // A git on the PATH that notes its niceness, then runs the real one.
    const bin = join(data, "bin");
    mkdirSync(bin, { recursive: true });
    const real = Bun.which("git")!;
    writeFileSync(join(bin, "git"), `#!/bin/sh\nnice >> ${join(bin, "niceness")}\nexec ${real} "$@"\n`);
    chmodSync(join(bin, "git"), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const mine = Number(Bun.spawnSync(["nice"]).stdout.toString());
      await fetchHead(join(data, "t7"), at());
      const seen = readFileSync(join(bin, "niceness"), "utf8").trim().split("\n").map(Number);
      expect(seen.length).toBeGreaterThan(0);
      expect(new Set(seen)).toEqual(new Set([19]));
      expect(mine).toBeLessThan(19);
    } finally {
      process.env.PATH = path;
    }
  }));
});

describe("explainFetchFailure", () => {
  const token = "glpat-s3cret-value";
  const https = { url: "https://git.example.com/acme/jobs.git", credentials: { token }, sshKnownHosts: null };

  test("masks the token, bare or in the Basic header, wherever git might echo it", () => {
    const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
    const msg = explainFetchFailure(`fatal: unable to access 'https://x-access-token:${token}@git.example.com/': ${basic}\n> Authorization: Basic ${basic}\n`, https);
    expect(msg).not.toContain(token);
    expect(msg).not.toContain(basic);
    expect(msg).toContain("***");
  });

  test("names the cause of a refused token, a refused or missing deploy key, and an unknown or changed host key", () => {
    expect(explainFetchFailure("fatal: Authentication failed for 'https://git.example.com/acme/jobs.git/'", https)).toContain("the remote refused the access token");
    const ssh = { url: "git@git.example.com:acme/jobs.git", credentials: { ssh_key: "k" }, sshKnownHosts: null };
    expect(explainFetchFailure("git@git.example.com: Permission denied (publickey).", ssh)).toContain("refused the deploy key");
    expect(explainFetchFailure("git@git.example.com: Permission denied (publickey).", { ...ssh, credentials: {} })).toContain("POST /api/v1/gitops/deploy-key");
    expect(explainFetchFailure("No ED25519 host key is known for git.example.com and you have requested strict checking.\nHost key verification failed.", ssh)).toContain("no key of ssh_known_hosts matches the host key of git.example.com");
    const changed = "@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\nHost key verification failed.\nfatal: Could not read from remote repository.";
    expect(explainFetchFailure(changed, { ...ssh, sshKnownHosts: "# pinned on first use by Crontopus at 2026-12-01T00:00:00Z\ngit.example.com ssh-ed25519 AAAA\n" })).toBe(
      'git fetch failed: the ssh host key of git.example.com is not the one pinned on first use: the sync was stopped and nothing changed. If the server\'s key was changed on purpose, check the new key and clear ssh_known_hosts (PUT with "ssh_known_hosts": null) or give the new one (git: Host key verification failed.; fatal: Could not read from remote repository.)',
    );
    expect(explainFetchFailure(changed, { ...ssh, sshKnownHosts: "git.example.com ssh-ed25519 AAAA\n" })).toContain("does not match ssh_known_hosts");
  });
});
