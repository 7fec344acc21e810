// Retention as a tenant admin sees it, on a live server: lowering retention_days through the API
// starts a pass within seconds (not at the next ten-minute round), and it deletes only what
// the new setting no longer keeps.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { persona, startTestServer, type Persona, type TestServer } from "./helpers";

let s: TestServer;
let alice: Persona;
const DAY = 86_400_000;

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme", "owner");
});
afterAll(() => s.close());

test("alice lowers retention_days and her check-ins older than that go within seconds", async () => {
  const put = await s.api("/api/v1/jobs/default/backup", { method: "PUT", token: alice.token, json: { schedule: "@daily" } });
  expect(put.status).toBeLessThan(300);
  const now = Date.now();
  // Three results an agent delivered late, with their own times: 20, 10 and 1 day ago.
  for (const age of [20, 10, 1]) {
    const r = await s.api("/api/v1/checkins", {
      method: "POST",
      token: alice.token,
      json: { job: "default/backup", kind: "success", at: new Date(now - age * DAY).toISOString() },
    });
    expect(r.status).toBe(200);
  }
  const runs = async () => ((await (await s.api("/api/v1/runs?job=default/backup", { token: alice.token })).json()) as { runs: unknown[] }).runs.length;
  expect(await runs()).toBe(3);
  const patch = await s.api("/api/v1/tenants/current", { method: "PATCH", token: alice.token, json: { retention_days: 5 } });
  expect(patch.status).toBe(200);
  let left = 3;
  for (let i = 0; i < 300 && left > 1; i++) {
    await Bun.sleep(100);
    left = await runs();
  }
  expect(left).toBe(1);
}, 60_000);
