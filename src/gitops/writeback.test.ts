// What write-back stands on: the tenant's turn (GitopsSyncer.exclusive: syncs and write-backs of one
// tenant run one at a time, in the order asked; another tenant's do not wait), and who a commit is by.
// Over a real database and a real bare repository; the write-back itself in test/gitops-writeback.test.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openSecretBox } from "../secrets";
import { manifest, TestRepo } from "../../test/gitops-repo";
import { ownerOf, sessionCaller, tempDir, tokenCaller } from "../../test/helpers";
import { putGitopsSettings } from "./settings";
import { GitopsSyncer, gitopsStatus } from "./sync";
import { commitAuthor, committer } from "./writeback";

const data = tempDir();
const repo = new TestRepo();
beforeAll(() => repo.commit("jobs", { "a.yaml": manifest("a") }));
afterAll(() => {
  repo.close();
  rmSync(data, { recursive: true, force: true });
});

/** A promise and the function that settles it: a write-back held open for as long as the test wants. */
function gate() {
  let open!: () => void;
  const shut = new Promise<void>((r) => (open = r));
  return { shut, open };
}

describe("the tenant's turn", () => {
  test("a sync asked for while a write-back holds acme's turn waits for it, and so does serve's stop; globex's sync does not", async () => {
    const { db, tenants } = await ownerOf("alice", ["acme", "globex"]);
    const secrets = openSecretBox(join(data, "secret.key"));
    for (const t of Object.values(tenants)) putGitopsSettings(db, { secrets, allowPrivateTargets: true }, t, { url: repo.url }, Date.now());
    const syncer = new GitopsSyncer({ db, secrets, dataDir: data, allowPrivateTargets: true, baseUrl: "http://crontopus.test", now: Date.now });
    const writeBack = gate();
    const order: string[] = [];
    const held = syncer.exclusive(tenants.acme!, async () => {
      await writeBack.shut;
      order.push("write-back");
    });
    const acme = syncer.sync(tenants.acme!, "manual").then((r) => (order.push("sync"), r));
    expect(syncer.isRunning(tenants.acme!)).toBe(true);
    // serve's stop waits for it too.
    let idle = false;
    const idled = syncer.idle().then(() => (idle = true));
    // globex runs through while acme's turn is taken.
    expect((await syncer.sync(tenants.globex!, "manual")).state).toBe("ok");
    // A sync that had started would have said so at once (state syncing); acme's has not.
    expect(gitopsStatus(db, tenants.acme!).state).toBe("never");
    expect(order).toEqual([]);
    expect(idle).toBe(false);
    writeBack.open();
    await held;
    expect((await acme).state).toBe("ok");
    expect(order).toEqual(["write-back", "sync"]);
    await idled;
    expect(syncer.isRunning(tenants.acme!)).toBe(false);
  });

  test("a turn that fails does not stop the next one", async () => {
    const { db, tenants } = await ownerOf("alice", ["acme"]);
    const secrets = openSecretBox(join(data, "secret.key"));
    putGitopsSettings(db, { secrets, allowPrivateTargets: true }, tenants.acme!, { url: repo.url }, Date.now());
    const syncer = new GitopsSyncer({ db, secrets, dataDir: join(data, "other"), allowPrivateTargets: true, baseUrl: "http://crontopus.test", now: Date.now });
    const failed = syncer.exclusive(tenants.acme!, async () => {
      throw new Error("push refused");
    });
    const next = syncer.sync(tenants.acme!, "manual");
    await expect(failed).rejects.toThrow("push refused");
    expect((await next).state).toBe("ok");
  });
});

describe("who a write-back commit is by", () => {
  test("a console user by their name and email; an API token by its name and its user's email; the committer is Crontopus", async () => {
    const { db, userId, tenants } = await ownerOf("alice", ["acme"]);
    expect(commitAuthor(db, await sessionCaller(db, userId, tenants.acme!))).toEqual({ name: "Alice", email: "alice@example.com" });
    expect(commitAuthor(db, tokenCaller(db, userId, tenants.acme!, ["write"]))).toEqual({ name: "with write", email: "alice@example.com" });
    expect(committer("https://cron.example.com/")).toEqual({ name: "Crontopus", email: "crontopus@cron.example.com" });
    expect(committer(undefined)).toEqual({ name: "Crontopus", email: "crontopus@localhost" });
  });
});
