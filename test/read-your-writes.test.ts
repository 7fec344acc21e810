// A 200 means stored and visible: after a ping or POST /api/v1/checkins is answered, every read
// that follows (the job, the jobs list, the runs with and without job=, /metrics, badges)
// reflects it at once. The engine ticks only every 10 s here, so nothing may wait for a tick.
// alice owns acme; she pings her jobs and reads them back straight away.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { persona, startTestServer, type Persona, type TestServer } from "./helpers";

let s: TestServer;
let alice: Persona;

beforeAll(async () => {
  s = await startTestServer({ CRONTOPUS_TICK_MS: "10000", CRONTOPUS_PING_RATE_LIMIT: "0" });
  alice = await persona(s.db, "alice", "acme", "owner");
});
afterAll(() => s.close());

const get = async (path: string) => {
  const r = await s.api(path, { token: alice.token });
  expect(r.status).toBe(200);
  return r;
};
const json = async (path: string) => (await (await get(path)).json()) as any;

describe("read your writes", () => {
  test("each of 40 pings is in the job, the list, both run lists and the metrics as soon as it is answered", async () => {
    const r = await s.api("/api/v1/jobs/rw/nightly", { method: "PUT", token: alice.token, json: { schedule: "@every 1h" } });
    expect(r.status).toBe(201);
    const { ping_url } = (await r.json()) as { ping_url: string };
    const settings = await json("/api/v1/tenants/current");
    const badge = `/badge/${settings.badge_key}/rw/nightly.json`;
    for (let i = 1; i <= 40; i++) {
      const exit = i % 2 === 0 ? 0 : 3;
      const ping = await fetch(`${ping_url}/${exit}`, { method: "POST", body: `run ${i}` });
      expect(ping.status).toBe(200);
      const job = await json("/api/v1/jobs/rw/nightly");
      expect(job).toMatchObject({ checkins_total: i, last_exit_code: exit, status: exit === 0 ? "up" : "failed" });
      expect(job.last_ping_at).not.toBeNull();
      const listed = (await json("/api/v1/jobs?namespace=rw")).jobs[0];
      expect(listed).toMatchObject({ checkins_total: i, last_exit_code: exit });
      const byJob = (await json("/api/v1/runs?job=rw/nightly&limit=1&output=true")).runs[0];
      expect(byJob).toMatchObject({ exit_code: exit, output: `run ${i}` });
      const all = (await json("/api/v1/runs?limit=1&output=true")).runs[0];
      expect(all).toMatchObject({ exit_code: exit, output: `run ${i}` });
      const metrics = await (await get("/metrics")).text();
      expect(metrics).toContain(`crontopus_job_checkins_total{namespace="rw",name="nightly"} ${i}`);
      expect(((await (await fetch(s.url + badge)).json()) as any).message).toBe(exit === 0 ? "up" : "failed");
    }
  });

  test("a run with a start and a finish shows its duration in the job as soon as the finish is answered", async () => {
    const r = await s.api("/api/v1/jobs/rw/timed", { method: "PUT", token: alice.token, json: { schedule: "@every 1h" } });
    const { id } = (await r.json()) as { id: string };
    for (let i = 1; i <= 10; i++) {
      const start = await s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: { job: id, kind: "start" } });
      expect(start.status).toBe(200);
      expect((await json("/api/v1/jobs/rw/timed")).status).toBe("running");
      const done = await s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: { job: id, kind: "success", duration_ms: 1000 + i } });
      expect(done.status).toBe(200);
      const job = await json("/api/v1/jobs/rw/timed");
      expect(job).toMatchObject({ status: "up", last_duration_ms: 1000 + i, last_exit_code: 0, checkins_total: 2 * i });
      const [run] = (await json("/api/v1/runs?job=rw/timed&limit=1")).runs;
      expect(run).toMatchObject({ status: "success", duration_ms: 1000 + i });
    }
  });

  test("50 check-ins sent at once are all on the first pages of the tenant's runs once answered", async () => {
    const ids: string[] = [];
    for (let j = 0; j < 5; j++) {
      const r = await s.api(`/api/v1/jobs/burst/j${j}`, { method: "PUT", token: alice.token, json: { schedule: "@every 1h" } });
      ids.push(((await r.json()) as { id: string }).id);
    }
    const sent = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: { job: ids[i % 5], kind: "success", output: `burst ${i}` } }),
      ),
    );
    expect(sent.map((r) => r.status)).toEqual(Array(50).fill(200));
    const outputs = ((await json("/api/v1/runs?limit=50&output=true")).runs as any[]).map((r) => r.output).sort();
    expect(outputs).toEqual(Array.from({ length: 50 }, (_, i) => `burst ${i}`).sort());
    for (let j = 0; j < 5; j++) expect((await json(`/api/v1/jobs/burst/j${j}`)).checkins_total).toBe(10);
  });
});
