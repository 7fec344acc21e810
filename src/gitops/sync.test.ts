// The syncer's triggers over a real database and a real bare repository: a sync a stopped server
// left `syncing` is reported honestly, a webhook's sync starts after the running one, and a local
// tree's files are chosen by the sync's own rules.
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openSecretBox } from "../secrets";
import { manifest, TestRepo } from "../../test/gitops-repo";
import { ownerOf, tempDir } from "../../test/helpers";
import { MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES } from "./git";
import { putGitopsSettings } from "./settings";
import { GitopsSyncer, gitopsStatus, listSyncs, recoverInterruptedSyncs, selectTreeFiles } from "./sync";

const data = tempDir();
const repos: TestRepo[] = [];
afterAll(() => {
  for (const r of repos) r.close();
  rmSync(data, { recursive: true, force: true });
});

/** Alice's acme with a repository of one job, connected (not synced), and a syncer over it. */
async function connectedTenant(now: () => number) {
  const repo = new TestRepo();
  repos.push(repo);
  repo.commit("first", { "production/backup.yaml": manifest("backup") });
  const { db, tenants } = await ownerOf("alice", ["acme"]);
  const tenant = tenants.acme!;
  const secrets = openSecretBox(join(data, "secret.key"));
  putGitopsSettings(db, { secrets, allowPrivateTargets: true }, tenant, { url: repo.url, interval: "1h" }, now());
  const dataDir = join(data, tenant);
  const syncer = () => new GitopsSyncer({ db, secrets, dataDir, allowPrivateTargets: true, now });
  return { repo, db, tenant, syncer };
}

describe("an interrupted sync", () => {
  test("at start, a sync left `syncing` is written in the history as interrupted, the state goes back to the last finished sync's, and the next sync is due", async () => {
    let t = Date.parse("2026-12-01T10:00:00Z");
    const { repo, db, tenant, syncer } = await connectedTenant(() => t);
    const before = syncer();
    expect((await before.sync(tenant, "manual")).state).toBe("ok");
    repo.commit("second", { "staging/report.yaml": manifest("report") });
    t += 60_000;
    // The server that was stopped: its sync had begun (and with it `syncing`) when it died.
    const dying = before.sync(tenant, "webhook");
    expect(gitopsStatus(db, tenant).state).toBe("syncing");
    t += 5_000;
    // The next server, at its start: no sync of its own runs.
    expect(recoverInterruptedSyncs(db, t)).toBe(1);
    const s = gitopsStatus(db, tenant);
    expect(s.state).toBe("ok");
    expect(s.message).toBe("the webhook sync started at 2026-12-01T10:01:00.000Z did not finish (the server stopped during it); it runs again now");
    expect(s.next_sync_at).toBe(new Date(t).toISOString());
    const [last] = listSyncs(db, tenant).syncs;
    expect(last).toMatchObject({ trigger: "webhook", state: "failing", commit: null, duration_ms: 5_000, started_at: "2026-12-01T10:01:00.000Z" });
    expect(last!.error).toMatch(/^interrupted: the webhook sync started at/);
    // Nothing else is stuck: a second look finds nothing.
    expect(recoverInterruptedSyncs(db, t)).toBe(0);
    await dying;
  });

  test("with no finished sync before it, the state goes back to never", async () => {
    const { db, tenant, syncer } = await connectedTenant(() => Date.now());
    const dying = syncer().sync(tenant, "periodic");
    expect(recoverInterruptedSyncs(db, Date.now())).toBe(1);
    expect(gitopsStatus(db, tenant).state).toBe("never");
    await dying;
  });

  test("read through the syncer, `syncing` with no sync running is recovered on the spot; a running one is left alone", async () => {
    const { db, tenant, syncer } = await connectedTenant(() => Date.now());
    const mine = syncer();
    const other = syncer();
    const running = mine.sync(tenant, "manual");
    // The syncer running it says syncing; one that is not (another process's view) recovers it.
    expect(mine.status(tenant).state).toBe("syncing");
    const seen = other.status(tenant);
    expect(seen.state).toBe("never");
    expect(seen.message).toMatch(/^the manual sync started at \S+ did not finish \(its end could not be written\); it runs again now$/);
    await running;
    expect(mine.status(tenant)).toMatchObject({ state: "ok", message: null });
  });
});

describe("syncLatest", () => {
  test("with no sync running it is a sync; while one runs it is one more after it, shared by every caller meanwhile", async () => {
    const { repo, db, tenant, syncer } = await connectedTenant(() => Date.now());
    const s = syncer();
    const first = s.sync(tenant, "periodic");
    const a = s.syncLatest(tenant, "webhook");
    const b = s.syncLatest(tenant, "webhook");
    expect(a).toBe(b);
    expect(a).not.toBe(first);
    // Still running: an ordinary request shares the running sync, not the one queued.
    expect(s.sync(tenant, "manual")).toBe(first);
    const r1 = await first;
    // Pushed after the first sync fetched (it has ended), before the queued one starts.
    const pushed = repo.commit("pushed during the first sync", { "staging/late.yaml": manifest("late") });
    const r2 = await a;
    expect(r1.commit).not.toBe(pushed);
    expect(r2.commit).toBe(pushed);
    expect(listSyncs(db, tenant).syncs.map((x) => x.trigger)).toEqual(["webhook", "periodic"]);
    // Nothing running: it starts at once.
    void s.syncLatest(tenant, "webhook");
    expect(s.isRunning(tenant)).toBe(true);
    void s.syncLatest(tenant, "webhook");
    // What serve's stop waits for: the running sync and the one queued after it.
    await s.idle();
    expect(s.isRunning(tenant)).toBe(false);
  });
});

describe("selectTreeFiles", () => {
  const f = (path: string, content = manifest("x")) => ({ path, content });

  test("keeps *.yaml, *.yml and *.json below the path, as a sync reads them", () => {
    const files = [f("jobs/a.yaml"), f("jobs/b/c.yml"), f("jobs/d.json", "{}"), f("jobs/readme.md"), f("other/e.yaml"), f("jobsmore/f.yaml")];
    expect(selectTreeFiles(files, "jobs").map((x) => x.path)).toEqual(["jobs/a.yaml", "jobs/b/c.yml", "jobs/d.json"]);
    expect(selectTreeFiles(files, "").map((x) => x.path)).toEqual(["jobs/a.yaml", "jobs/b/c.yml", "jobs/d.json", "other/e.yaml", "jobsmore/f.yaml"]);
  });

  test("refuses paths that leave the repository or name .git, naming the file", () => {
    for (const bad of ["/etc/x.yaml", "../x.yaml", "a/../../x.yaml", "a//b.yaml", "./a.yaml", ".git/config.yaml", "a\\b.yaml", ""]) {
      expect(() => selectTreeFiles([f("ok.yaml"), f(bad)], "")).toThrow(/^files\[1\]\.path: must be a relative path inside the repository/);
    }
  });

  test("the sync's limits: files, bytes per file, bytes in all", () => {
    expect(() => selectTreeFiles([f("big.yaml", "x".repeat(MAX_FILE_BYTES + 1))], "")).toThrow(`files: big.yaml is ${MAX_FILE_BYTES + 1} bytes; files over ${MAX_FILE_BYTES} bytes are refused`);
    // Bytes, not characters: é is two.
    expect(() => selectTreeFiles([f("wide.yaml", "é".repeat(MAX_FILE_BYTES / 2 + 1))], "")).toThrow(/^files: wide\.yaml is 1048578 bytes/);
    const many = Array.from({ length: MAX_FILES + 1 }, (_, i) => f(`j${i}.yaml`, ""));
    expect(() => selectTreeFiles(many, "")).toThrow(`files: more than ${MAX_FILES} manifest files below the root`);
    const mib = "x".repeat(MAX_FILE_BYTES);
    const heavy = Array.from({ length: MAX_TOTAL_BYTES / MAX_FILE_BYTES + 1 }, (_, i) => f(`h${i}.yaml`, mib));
    expect(() => selectTreeFiles(heavy, "")).toThrow(`files: the manifest files below the root exceed ${MAX_TOTAL_BYTES} bytes`);
    // Files a sync does not read do not count.
    expect(selectTreeFiles([f("a.yaml"), f("notes.txt", mib + mib)], "")).toHaveLength(1);
  });

  test("a tree with no manifest below the path changes nothing, like an empty tree: refused", () => {
    expect(() => selectTreeFiles([f("other/a.yaml")], "jobs")).toThrow("files: no manifest file (*.yaml, *.yml, *.json) below jobs: 1 files given, none below it; a sync of this tree would change nothing");
    expect(() => selectTreeFiles([f("jobs/notes.md")], "jobs")).toThrow("files: no manifest file (*.yaml, *.yml, *.json) below jobs; a sync of this tree would change nothing");
  });
});
