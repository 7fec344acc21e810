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

  test("a sync that ends hands its slot to the next due tenant at once, without waiting for the next tick", async () => {
    repo.commit("more jobs", { "b.yaml": manifest("b") });
    const slugs = ["u1", "u2", "u3"];
    const { db, tenants } = await ownerOf("bob", slugs);
    const secrets = openSecretBox(join(data, "secret.key"));
    for (const s of slugs) putGitopsSettings(db, { secrets, allowPrivateTargets: true }, tenants[s]!, { url: repo.url, interval: "10s" }, Date.now());
    const syncer = new GitopsSyncer({ db, secrets, dataDir: join(data, "chain"), allowPrivateTargets: true, baseUrl: "http://crontopus.test", now: Date.now });
    // One at a time, and a tick an hour apart: only the hand-over can reach the second and third tenant.
    const scheduler = new GitopsScheduler(db, syncer, Date.now, undefined, 1, 3_600_000);
    scheduler.start();
    expect(scheduler.tick()).toBe(1);
    const end = Date.now() + 60_000;
    while (slugs.some((s) => gitopsStatus(db, tenants[s]!).state !== "ok") && Date.now() < end) await Bun.sleep(20);
    await scheduler.stop();
    expect(slugs.map((s) => gitopsStatus(db, tenants[s]!).state)).toEqual(["ok", "ok", "ok"]);
  }, 90_000);
});
