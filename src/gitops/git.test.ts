// The git runner against real bare repositories over file://.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers";
import { manifest, TestRepo } from "../../test/gitops-repo";
import { fetchHead, readManifestFiles, GitError, type Remote } from "./git";

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
    const dir = join(data, "t2");
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
});
