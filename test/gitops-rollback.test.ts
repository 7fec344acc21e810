// A sync whose transaction fails part-way (here: the database refuses the second delete) stores
// nothing, and leaves nothing changed in memory either: the jobs it had deleted before the
// failure still answer their pings, and their counters are what the database and the log say.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { holdPeriodicSyncs, manifest, TestRepo } from "./gitops-repo";
import { persona, startTestServer, type Persona, type TestServer } from "./helpers";

let srv: TestServer;
let alice: Persona;
let repo: TestRepo;
let heldUntil: string;

beforeAll(async () => {
  srv = await startTestServer({ CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" });
  alice = await persona(srv.db, "alice", "acme", "owner");
  repo = new TestRepo();
  // No periodic sync: one could sync the push below before or after the refusing trigger (a
  // request that shared a periodic sync of the head before the push answered 200, 1 run in 44 here).
  heldUntil = holdPeriodicSyncs(srv.db, "acme");
});
afterAll(async () => {
  await srv.close();
  repo.close();
});

const call = async (path: string, init: { method?: string; json?: unknown } = {}) => {
  const res = await srv.api(path, { ...init, token: alice.token });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
};

test("a sync rolled back after deleting a job leaves that job answering, with its counters", async () => {
  repo.commit("three jobs", { "a.yaml": manifest("a"), "b.yaml": manifest("b"), "c.yaml": manifest("c") });
  expect((await call("/api/v1/gitops", { method: "PUT", json: { url: repo.url, prune: true } })).status).toBe(200);
  expect((await call("/api/v1/gitops/status")).body.next_sync_at).toBe(heldUntil);
  expect((await call("/api/v1/gitops/sync", { method: "POST" })).body.state).toBe("ok");
  const a = (await call("/api/v1/jobs/default/a")).body;
  for (let i = 0; i < 3; i++) expect((await fetch(a.ping_url)).status).toBe(200);
  expect((await call("/api/v1/jobs/default/a")).body.checkins_total).toBe(3);

  // The database refuses to delete b, as a full disk or an I/O error would: a deletes first (by
  // name order in the plan), then b fails, and the transaction rolls back.
  srv.db.exec("CREATE TRIGGER refuse_b BEFORE DELETE ON jobs WHEN OLD.name = 'b' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
  try {
    repo.commit("drop a and b", { "a.yaml": null, "b.yaml": null });
    const r = await call("/api/v1/gitops/sync", { method: "POST" });
    expect(r.status).toBe(500);
  } finally {
    srv.db.exec("DROP TRIGGER refuse_b");
  }
  expect(((await call("/api/v1/jobs")).body.jobs as { name: string }[]).map((j) => j.name).sort()).toEqual(["a", "b", "c"]);
  // Still there, and the engine still knows it: its pings are taken and counted on.
  expect((await fetch(a.ping_url)).status).toBe(200);
  const after = (await call("/api/v1/jobs/default/a")).body;
  expect(after.checkins_total).toBe(4);
  expect(after.status).toBe("up");
  const runs = (await call(`/api/v1/runs?job=${a.id}`)).body.runs as unknown[];
  expect(runs).toHaveLength(4);
});
