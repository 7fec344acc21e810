// What a sync costs when little changed, over a real database and a real bare repository: an
// unchanged head is looked at and not fetched; a commit changing one manifest of many writes that
// job alone, and the others move to the new commit without being written again.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { openSecretBox } from "../secrets";
import { manifest, TestRepo } from "../../test/gitops-repo";
import { ownerOf, tempDir } from "../../test/helpers";
import { findJob, pauseJob, resumeJob } from "../jobs/jobs";
import { putGitopsSettings } from "./settings";
import { GitopsSyncer, listSyncs, Readings, repoDir } from "./sync";
import type { FileReading } from "./plan";

const data = tempDir();
// A repository of its own for each test, so that each reads only what it committed.
const repos: TestRepo[] = [];
let repo: TestRepo;
beforeEach(() => {
  repo = new TestRepo();
  repos.push(repo);
});
afterAll(() => {
  for (const r of repos) r.close();
  rmSync(data, { recursive: true, force: true });
});

async function connected() {
  const { db, tenants } = await ownerOf("alice", ["acme"]);
  const tenant = tenants.acme!;
  const secrets = openSecretBox(join(data, "secret.key"));
  putGitopsSettings(db, { secrets, allowPrivateTargets: true }, tenant, { url: repo.url, prune: true }, Date.now() - 1000);
  // A clock that moves, so every write's time differs from the one before.
  let now = Date.now();
  const syncer = new GitopsSyncer({ db, secrets, dataDir: data, allowPrivateTargets: true, baseUrl: "http://crontopus.test", now: () => (now += 1000) });
  return { db, tenant, syncer };
}

describe("GitopsSyncer", () => {
  test("an unchanged head is looked at, not fetched: the local repository and the history stay as they were", async () => {
    repo.commit("jobs", { "prod/a.yaml": manifest("a"), "prod/b.yaml": manifest("b") });
    const { db, tenant, syncer } = await connected();
    const first = await syncer.sync(tenant, "manual");
    expect(first.state).toBe("ok");
    const fetchHead = join(repoDir(data, tenant), "FETCH_HEAD");
    const before = { text: readFileSync(fetchHead, "utf8"), mtime: statSync(fetchHead).mtimeMs };
    const again = await syncer.sync(tenant, "manual");
    expect(again).toMatchObject({ state: "ok", commit: first.commit });
    expect(again.plan).toEqual(first.plan); // the last plan
    expect({ text: readFileSync(fetchHead, "utf8"), mtime: statSync(fetchHead).mtimeMs }).toEqual(before);
    expect(listSyncs(db, tenant).syncs).toHaveLength(1);
    // A new head is fetched.
    const c2 = repo.commit("docs", { "README.md": "# jobs\n" });
    const third = await syncer.sync(tenant, "manual");
    expect(third).toMatchObject({ state: "ok", commit: c2 });
    expect(readFileSync(fetchHead, "utf8")).toContain(c2);
    expect(third.plan!.unchanged).toBe(first.plan!.create.length);
  });

  test("a commit changing one manifest writes that job alone; the others keep their rows and carry the new commit as their source", async () => {
    repo.commit("three", { "prod/a.yaml": manifest("a"), "prod/b.yaml": manifest("b"), "prod/c.yaml": manifest("c") });
    const { db, tenant, syncer } = await connected();
    await syncer.sync(tenant, "manual");
    const was = Object.fromEntries(["a", "b", "c"].map((n) => [n, findJob(db, tenant, "prod", n)!]));
    const c2 = repo.commit("b hourly, c moved", { "prod/b.yaml": manifest("b", "@hourly") });
    repo.rename("prod/c.yaml", "prod/sub/c.yaml", "move c");
    const c3 = repo.commit("nothing else", {});
    expect(c3).not.toBe(c2);
    const r = await syncer.sync(tenant, "manual");
    expect(r.state).toBe("ok");
    expect(r.plan!.update.map((u) => u.name)).toEqual(["b"]);
    expect(r.plan!.unchanged).toBe(2);
    const now = Object.fromEntries(["a", "b", "c"].map((n) => [n, findJob(db, tenant, "prod", n)!]));
    expect(now.b!.schedule).toBe("@hourly");
    expect(now.b!.updated_at).toBeGreaterThan(was.b!.updated_at);
    for (const n of ["a", "c"]) {
      expect(now[n]!.id).toBe(was[n]!.id);
      expect(now[n]!.updated_at).toBe(was[n]!.updated_at);
    }
    for (const n of ["a", "b", "c"]) expect(now[n]!.source!.commit).toBe(r.commit);
    expect(now.a!.source!.path).toBe("prod/a.yaml");
    expect(now.c!.source!.path).toBe("prod/sub/c.yaml");
  });

  test("an unchanged job whose manifest comes to agree with its pause records Git's word, so a later resume is not undone", async () => {
    const pausedManifest = manifest("p").replace("spec:\n", "spec:\n  paused: true\n");
    repo.commit("p", { "prod/p.yaml": manifest("p") });
    const { db, tenant, syncer } = await connected();
    expect((await syncer.sync(tenant, "manual")).state).toBe("ok");
    pauseJob(db, tenant, "prod", "p", Date.now());
    // Git now says paused too: nothing to change in the job, but Git's word is kept.
    repo.commit("pause p in git", { "prod/p.yaml": pausedManifest });
    const r = await syncer.sync(tenant, "manual");
    expect(r.plan!.update.map((u) => u.name)).not.toContain("p");
    expect(findJob(db, tenant, "prod", "p")!.paused).toBe(true);
    // Resumed by hand against Git: an override, which the next sync keeps.
    resumeJob(db, tenant, "prod", "p", Date.now());
    repo.commit("docs", { "README.md": "# again\n" });
    expect((await syncer.sync(tenant, "manual")).state).toBe("ok");
    expect(findJob(db, tenant, "prod", "p")!.paused).toBe(false);
  });

  test("the kept readings stay under their bound: the tenant planned longest ago goes first, a tree over it alone is not kept", () => {
    const tree = (chars: number) => new Map<string, FileReading>([["k", { text: "x".repeat(chars), found: [], errors: [], skipped: true, kept: false, keptKeys: [] }]]);
    // 8 bytes of memory are counted per byte of text: room for 100 bytes of text.
    const readings = new Readings(800);
    readings.set("t1", tree(40));
    readings.set("t2", tree(40));
    expect([readings.get("t1")?.size, readings.get("t2")?.size]).toEqual([1, 1]);
    readings.set("t3", tree(40));
    expect([readings.get("t1"), readings.get("t2")?.size, readings.get("t3")?.size]).toEqual([undefined, 1, 1]);
    // A tenant's new tree replaces its old one, and counts once.
    readings.set("t2", tree(50));
    expect([readings.get("t2")?.get("k")?.text.length, readings.get("t3")?.size]).toEqual([50, 1]);
    readings.set("big", tree(101));
    expect(readings.get("big")).toBeUndefined();
    expect(readings.get("t3")?.size).toBe(1);
  });
});
