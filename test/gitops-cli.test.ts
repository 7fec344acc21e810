// `crontopus gitops` as a user runs it, against a live server and a real bare repository.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { manifest, TestRepo } from "./gitops-repo";
import { cli, persona, startTestServer, type Persona, type TestServer } from "./helpers";

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

describe("crontopus gitops", () => {
  test("set, get, plan --exit-code, sync, then plan has no changes, and disconnect", async () => {
    let r = await cli(["gitops", "set", repo.url, "--branch", "main", "--interval", "30s"], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("interval        30s");
    r = await cli(["gitops", "get", "--json"], env());
    expect(JSON.parse(r.stdout)).toMatchObject({ url: repo.url, branch: "main", prune: false });
    r = await cli(["gitops", "plan", "--exit-code"], env());
    expect(r.stdout).toContain("+ create production/backup (production/backup.yaml)");
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
});
