// Links from the console to the forge: each forge's file and commit URLs, ssh remotes mapped to
// https, and no link at all where a guess would be wrong.
import { describe, expect, test } from "bun:test";
import { forgeCommitUrl, forgeFileUrl, forgeRepo } from "./forge";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("forgeFileUrl", () => {
  test("GitHub: <repo>/blob/<commit>/<path>#L<line>, from https and ssh remotes alike", () => {
    const want = `https://github.com/acme/jobs/blob/${SHA}/staging/broken.yaml#L6`;
    expect(forgeFileUrl("https://github.com/acme/jobs.git", SHA, "staging/broken.yaml", 6)).toBe(want);
    expect(forgeFileUrl("https://github.com/acme/jobs", SHA, "staging/broken.yaml", 6)).toBe(want);
    expect(forgeFileUrl("git@github.com:acme/jobs.git", SHA, "staging/broken.yaml", 6)).toBe(want);
    expect(forgeFileUrl("ssh://git@github.com/acme/jobs.git", SHA, "staging/broken.yaml", 6)).toBe(want);
    expect(forgeFileUrl("https://GitHub.com/acme/jobs/", SHA, "staging/broken.yaml", 6)).toBe(want);
  });

  test("GitLab: <repo>/-/blob/<commit>/<path>#L<line>, subgroups and self-hosted gitlab.* hosts too", () => {
    expect(forgeFileUrl("https://gitlab.com/acme/ops/jobs.git", SHA, "a.yaml", 2)).toBe(`https://gitlab.com/acme/ops/jobs/-/blob/${SHA}/a.yaml#L2`);
    expect(forgeFileUrl("git@gitlab.example.com:acme/jobs.git", SHA, "a.yaml", 2)).toBe(`https://gitlab.example.com/acme/jobs/-/blob/${SHA}/a.yaml#L2`);
  });

  test("Gitea and Forgejo: <repo>/src/commit/<commit>/<path>#L<line> (codeberg.org, gitea.com, hosts named so)", () => {
    expect(forgeFileUrl("https://codeberg.org/acme/jobs.git", SHA, "prod/x.yml", 9)).toBe(`https://codeberg.org/acme/jobs/src/commit/${SHA}/prod/x.yml#L9`);
    expect(forgeFileUrl("https://gitea.example.com/acme/jobs.git", SHA, "x.yml", 1)).toBe(`https://gitea.example.com/acme/jobs/src/commit/${SHA}/x.yml#L1`);
    expect(forgeFileUrl("ssh://git@forgejo.acme.test:2222/acme/jobs.git", SHA, "x.yml", 1)).toBe(`https://forgejo.acme.test/acme/jobs/src/commit/${SHA}/x.yml#L1`);
  });

  test("without a line, the file; path segments are URL-encoded", () => {
    expect(forgeFileUrl("https://github.com/acme/jobs", SHA, "my jobs/a#b.yaml")).toBe(`https://github.com/acme/jobs/blob/${SHA}/my%20jobs/a%23b.yaml`);
    expect(forgeFileUrl("https://github.com/acme/jobs", SHA, "a.yaml", 0)).toBe(`https://github.com/acme/jobs/blob/${SHA}/a.yaml`);
  });

  test("no link for file:// and local paths, an unknown forge, a strange commit or path, or a URL with a query", () => {
    expect(forgeFileUrl("file:///srv/git/jobs.git", SHA, "a.yaml", 1)).toBeNull();
    expect(forgeFileUrl("/srv/git/jobs.git", SHA, "a.yaml", 1)).toBeNull();
    expect(forgeFileUrl("https://git.example.com/acme/jobs.git", SHA, "a.yaml", 1)).toBeNull();
    expect(forgeFileUrl("https://github.com/acme/jobs", "main", "a.yaml", 1)).toBeNull();
    expect(forgeFileUrl("https://github.com/acme/jobs", null, "a.yaml", 1)).toBeNull();
    expect(forgeFileUrl("https://github.com/acme/jobs", SHA, "../etc/passwd", 1)).toBeNull();
    expect(forgeFileUrl("https://github.com/acme/jobs", SHA, null, 1)).toBeNull();
    expect(forgeFileUrl("https://github.com/acme/jobs?x=1", SHA, "a.yaml", 1)).toBeNull();
    expect(forgeFileUrl("https://github.com/acme", SHA, "a.yaml", 1)).toBeNull();
    expect(forgeFileUrl("https://github.com/acme/<script>", SHA, "a.yaml", 1)).toBeNull();
    expect(forgeFileUrl("javascript:alert(1)//github.com/a/b", SHA, "a.yaml", 1)).toBeNull();
  });
});

describe("forgeCommitUrl and forgeRepo", () => {
  test("a commit's page: /commit/<sha>, GitLab's /-/commit/<sha>", () => {
    expect(forgeCommitUrl("git@github.com:acme/jobs.git", SHA)).toBe(`https://github.com/acme/jobs/commit/${SHA}`);
    expect(forgeCommitUrl("https://gitlab.com/acme/jobs.git", SHA)).toBe(`https://gitlab.com/acme/jobs/-/commit/${SHA}`);
    expect(forgeCommitUrl("https://codeberg.org/acme/jobs.git", SHA)).toBe(`https://codeberg.org/acme/jobs/commit/${SHA}`);
    expect(forgeCommitUrl("file:///srv/jobs.git", SHA)).toBeNull();
  });

  test("the repository's page and its forge", () => {
    expect(forgeRepo("git@github.com:acme/jobs.git")).toEqual({ forge: "github", web: "https://github.com/acme/jobs" });
    expect(forgeRepo("https://gitlab.com/acme/ops/jobs")).toEqual({ forge: "gitlab", web: "https://gitlab.com/acme/ops/jobs" });
    expect(forgeRepo("https://example.org/acme/jobs")).toBeNull();
  });
});
