// The periodic scheduler over a real database and real bare repositories.
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openSecretBox } from "../secrets";
import { manifest, TestRepo } from "../../test/gitops-repo";
import { ownerOf, tempDir } from "../../test/helpers";
import { putGitopsSettings } from "./settings";
import { GitopsScheduler } from "./scheduler";
import { GitopsSyncer, gitopsStatus } from "./sync";

const data = tempDir();
const repo = new TestRepo();
afterAll(() => {
  repo.close();
  rmSync(data, { recursive: true, force: true });
});

describe("GitopsScheduler", () => {
  test("syncs every due tenant once per interval, at most N at a time", async () => {
    repo.commit("jobs", { "a.yaml": manifest("a") });
    const slugs = ["t1", "t2", "t3"];
    const { db, tenants } = await ownerOf("alice", slugs);
    const secrets = openSecretBox(join(data, "secret.key"));
    let now = Date.now();
    for (const s of slugs) putGitopsSettings(db, { secrets, allowPrivateTargets: true }, tenants[s]!, { url: repo.url, interval: "10s" }, now);
    const syncer = new GitopsSyncer({ db, secrets, dataDir: data, allowPrivateTargets: true, baseUrl: "http://crontopus.test", now: () => now });
    const scheduler = new GitopsScheduler(db, syncer, () => now, undefined, 2);
    expect(scheduler.tick()).toBe(2);
    // The bound holds while those two run.
    expect(scheduler.tick()).toBe(0);
    await scheduler.stop();
    expect(scheduler.tick()).toBe(1);
    await scheduler.stop();
    for (const s of slugs) expect(gitopsStatus(db, tenants[s]!).state).toBe("ok");
    // Nobody is due again before the interval.
    now += 5_000;
    expect(scheduler.tick()).toBe(0);
    now += 7_000;
    expect(scheduler.tick()).toBe(2);
    await scheduler.stop();
  });
});
