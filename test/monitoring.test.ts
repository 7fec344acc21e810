// The monitoring engine end to end: real pings over HTTP, real webhook deliveries. Time is the
// server's injected clock: tests about deadlines move it instead of sleeping, so what they
// assert does not depend on how busy the machine is. alice owns acme; the engine ticks every 50 ms.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { persona, startTestServer, tempDir, TestClock, type Persona, type TestServer } from "./helpers";
import { RECEIVER_ENV, startReceiver, until } from "./receiver";

const ENV = { ...RECEIVER_ENV, CRONTOPUS_TICK_MS: "50", CRONTOPUS_PING_BODY_LIMIT: "1KB", CRONTOPUS_PING_RATE_LIMIT: "40" };
let s: TestServer;
let alice: Persona, charlie: Persona;
const hook = startReceiver();
const clock = new TestClock();

beforeAll(async () => {
  s = await startTestServer(ENV, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
  charlie = await persona(s.db, "charlie", "globex", "owner");
  const r = await s.api("/api/v1/channels", { method: "POST", token: alice.token, json: { name: "hook", type: "webhook", config: { url: hook.url + "/alerts", secret: "s3cret" } } });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  await s.close();
  hook.stop();
});

async function putJob(name: string, body: Record<string, unknown>) {
  const r = await s.api(`/api/v1/jobs/default/${name}`, { method: "PUT", token: alice.token, json: body });
  expect(r.status).toBeLessThan(300);
  return (await r.json()) as { id: string; ping_url: string };
}
const job = async (name: string) => (await (await s.api(`/api/v1/jobs/default/${name}`, { token: alice.token })).json()) as Record<string, any>;
const runs = async (name: string) => ((await (await s.api(`/api/v1/jobs/default/${name}/runs?output=true`, { token: alice.token })).json()) as { runs: any[] }).runs;
const alertsFor = (name: string) => hook.received.filter((r) => r.json?.job?.name === name);
/** Waits for the engine to run `n` whole ticks (after a clock move: it has seen the new time). */
async function ticks(server: TestServer, n = 2) {
  const target = server.engine.totals.ticks + n;
  await until(() => server.engine.totals.ticks >= target, 10_000, 5);
}
/** The alerts queued for a job on the channel "hook", sent or not: what the engine decided, with no wait for delivery. */
const queued = (server: TestServer, name: string) =>
  server.db
    .query<{ event: string }, [string]>(
      "SELECT n.event FROM notifications n JOIN jobs j ON j.id = n.job_id JOIN channels c ON c.id = n.channel_id WHERE j.name = ? AND c.name = 'hook' ORDER BY n.id",
    )
    .all(name)
    .map((r) => r.event);

describe("ping protocol", () => {
  test("GET, POST and HEAD on /ping/<token> record a success with the body as output", async () => {
    const { ping_url } = await putJob("proto", { schedule: "@every 1h" });
    const get = await fetch(ping_url);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe("OK");
    expect((await fetch(ping_url, { method: "HEAD" })).status).toBe(200);
    const post = await fetch(ping_url, { method: "POST", body: "backup done: 42 files" });
    expect(post.status).toBe(200);
    const rs = await until(async () => ((await runs("proto")).length === 3 ? runs("proto") : null));
    expect(rs.map((r) => r.status)).toEqual(["success", "success", "success"]);
    expect(rs[0].output).toBe("backup done: 42 files");
    expect((await job("proto")).status).toBe("up");
  });

  test("a body over the limit keeps its head and its tail, is marked truncated, and is never refused", async () => {
    const { ping_url } = await putJob("big-body", { schedule: "@every 1h" });
    const r = await fetch(ping_url + "/fail", { method: "POST", body: "A".repeat(2500) + "B".repeat(2500) + "the error at the end" });
    expect(r.status).toBe(200);
    const [run] = await until(async () => ((await runs("big-body")).length ? runs("big-body") : null));
    expect(run.output).toStartWith("A".repeat(512));
    expect(run.output).toEndWith("the error at the end");
    expect(run.output).toContain("bytes cut");
    expect(run.output.length).toBeLessThan(1024 + 40);
    expect(run.output_truncated).toBe(true);
    expect(run.status).toBe("failed");
    // Streamed without a length, the same.
    const chunks = ["C".repeat(3000), "D".repeat(3000), "tail!"];
    const stream = new ReadableStream({ pull(c) { const x = chunks.shift(); if (x) c.enqueue(new TextEncoder().encode(x)); else c.close(); } });
    expect((await fetch(ping_url + "/fail", { method: "POST", body: stream })).status).toBe(200);
    const runs2 = await until(async () => ((await runs("big-body")).length === 2 ? runs("big-body") : null));
    expect(runs2[0].output).toStartWith("CCC");
    expect(runs2[0].output).toEndWith("tail!");
  });

  test("answers 400 for a bad exit code or run id, 404 for an unknown token", async () => {
    const { ping_url } = await putJob("bad-input", { schedule: "@every 1h" });
    expect((await fetch(ping_url + "/256")).status).toBe(400);
    expect((await fetch(ping_url + "/-0")).status).toBe(400);
    expect((await fetch(ping_url + "?rid=not-a-uuid")).status).toBe(400);
    expect((await fetch(`${s.url}/ping/no-such-token`)).status).toBe(404);
    expect((await fetch(`${s.url}/ping/no-such-token/start`)).status).toBe(404);
  });

  test("a /log line changes no state and shows among the job's check-ins with all=true", async () => {
    const { ping_url } = await putJob("chatter", { schedule: "@every 1h" });
    await fetch(ping_url + "/log", { method: "POST", body: "step 1 of 3 done" });
    const all = await until(async () => {
      const r = (await (await s.api("/api/v1/jobs/default/chatter/runs?all=true&output=true", { token: alice.token })).json()) as { runs: any[] };
      return r.runs.length ? r.runs : null;
    });
    expect(all[0]).toMatchObject({ kind: "log", output: "step 1 of 3 done" });
    expect(await runs("chatter")).toEqual([]);
    expect((await job("chatter")).status).toBe("new");
  });

  test("exit codes: 0 is a success, 1-255 a failure with that code", async () => {
    const { ping_url } = await putJob("codes", { schedule: "@every 1h" });
    await fetch(ping_url + "/0");
    await fetch(ping_url + "/3");
    const rs = await until(async () => ((await runs("codes")).length === 2 ? runs("codes") : null));
    expect(rs.map((r) => [r.status, r.exit_code])).toEqual([
      ["failed", 3],
      ["success", 0],
    ]);
  });

  test("a job is addressed by slug with the tenant's ping key, and ?create=1 provisions one when allowed", async () => {
    await putJob("by-slug", { schedule: "@every 1h", namespace: "default" });
    await s.api("/api/v1/jobs/reports/nightly-sum", { method: "PUT", token: alice.token, json: { schedule: "@daily" } });
    const { ping_key } = (await (await s.api("/api/v1/tenants/current", { token: alice.token })).json()) as { ping_key: string };
    expect((await fetch(`${s.url}/ping/${ping_key}/by-slug`)).status).toBe(200);
    expect((await fetch(`${s.url}/ping/${ping_key}/reports-nightly-sum/start`)).status).toBe(200);
    expect((await fetch(`${s.url}/ping/${ping_key}/brand-new?create=1`)).status).toBe(404);
    await s.api("/api/v1/tenants/current", { method: "PATCH", token: alice.token, json: { auto_provision: true } });
    const created = await fetch(`${s.url}/ping/${ping_key}/brand-new?create=1`);
    expect(created.status).toBe(201);
    expect((await s.api("/api/v1/jobs/default/brand-new", { token: alice.token })).status).toBe(200);
    expect((await fetch(`${s.url}/ping/${ping_key}/brand-new?create=1`)).status).toBe(200);
    // Another tenant's key never reaches acme's jobs.
    const { ping_key: globexKey } = (await (await s.api("/api/v1/tenants/current", { token: charlie.token })).json()) as { ping_key: string };
    expect((await fetch(`${s.url}/ping/${globexKey}/by-slug`)).status).toBe(404);
  });

  test("pings beyond the per-job rate limit get 429", async () => {
    const { ping_url } = await putJob("chatty", { schedule: "@every 1h" });
    const codes = await Promise.all(Array.from({ length: 45 }, () => fetch(ping_url + "/log", { method: "POST", body: "x" }).then((r) => r.status)));
    expect(codes.filter((c) => c === 200).length).toBe(40);
    expect(codes.filter((c) => c === 429).length).toBe(5);
  });

  test("POST /api/v1/checkins records a run with exit code, duration and output", async () => {
    await putJob("via-api", { schedule: "@every 1h" });
    const r = await s.api("/api/v1/checkins", {
      method: "POST",
      token: alice.token,
      json: { job: "default/via-api", kind: "fail", exit_code: 2, duration_ms: 1500, output: "disk full" },
    });
    expect(r.status).toBe(200);
    const [run] = await until(async () => ((await runs("via-api")).length ? runs("via-api") : null));
    expect(run).toMatchObject({ status: "failed", exit_code: 2, duration_ms: 1500, output: "disk full" });
    const bad = await s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: { job: "via-api", kind: "success", exit_code: 4 } });
    expect(bad.status).toBe(422);
    const other = await s.api("/api/v1/checkins", { method: "POST", token: charlie.token, json: { job: "default/via-api", kind: "success" } });
    expect(other.status).toBe(404);
  });
});

describe("runs", () => {
  test("overlapping runs are paired by run id", async () => {
    const { ping_url } = await putJob("overlap", { schedule: "@every 1h" });
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    await fetch(`${ping_url}/start?rid=${a}`);
    clock.advance(30);
    await fetch(`${ping_url}/start?rid=${b}`);
    await until(async () => (await job("overlap")).status === "running");
    clock.advance(40);
    await fetch(`${ping_url}/0?rid=${b}`, { method: "POST", body: "b done" });
    await until(async () => (await runs("overlap")).some((r) => r.status === "success"));
    expect((await job("overlap")).status).toBe("running");
    clock.advance(10);
    await fetch(`${ping_url}/1?rid=${a}`, { method: "POST", body: "a broke" });
    const rs = await until(async () => {
      const x = await runs("overlap");
      return x.every((r) => r.status !== "running") ? x : null;
    });
    const byRid = Object.fromEntries(rs.map((r) => [r.run_id, r]));
    expect(byRid[a]).toMatchObject({ status: "failed", exit_code: 1, output: "a broke" });
    expect(byRid[b]).toMatchObject({ status: "success", exit_code: 0, output: "b done" });
    expect([byRid[a].duration_ms, byRid[b].duration_ms]).toEqual([80, 40]);
  });

  test("without a run id a finish closes the newest open run", async () => {
    const { ping_url } = await putJob("newest", { schedule: "@every 1h" });
    await fetch(`${ping_url}/start`);
    clock.advance(20);
    await fetch(`${ping_url}/start`);
    await fetch(`${ping_url}`);
    const rs = await until(async () => {
      const x = await runs("newest");
      return x.some((r) => r.status === "success") ? x : null;
    });
    expect(rs.map((r) => r.status)).toEqual(["success", "running"]);
  });

  test("a start with no finish within the timeout makes the run timeout and the job failed", async () => {
    const { ping_url } = await putJob("hangs", { schedule: "@every 1h", timeout: 1 });
    await fetch(`${ping_url}/start`);
    clock.advance(900);
    await ticks(s);
    expect((await job("hangs")).status).toBe("running");
    clock.advance(200);
    const j = await until(async () => ((await job("hangs")).status === "failed" ? job("hangs") : null));
    expect(j.status).toBe("failed");
    const [run] = await runs("hangs");
    expect(run).toMatchObject({ status: "timeout", duration_ms: 1000 });
    expect(queued(s, "hangs")).toEqual(["trigger"]);
    await until(() => alertsFor("hangs").length === 1);
  });

  test("runs and flips are listed and another tenant sees none", async () => {
    const { ping_url } = await putJob("listed", { schedule: "@every 1h" });
    await fetch(ping_url + "/0");
    await fetch(ping_url + "/3");
    await until(async () => (await runs("listed")).length === 2);
    const list = (await (await s.api("/api/v1/runs?job=default/listed", { token: alice.token })).json()) as { runs: any[] };
    expect(list.runs.length).toBe(2);
    const one = await (await s.api(`/api/v1/runs/${list.runs[0].id}`, { token: alice.token })).json();
    expect(one).toMatchObject({ id: list.runs[0].id, job: "default/listed" });
    expect((await s.api(`/api/v1/runs/${list.runs[0].id}`, { token: charlie.token })).status).toBe(404);
    expect(((await (await s.api("/api/v1/runs", { token: charlie.token })).json()) as { runs: unknown[] }).runs).toEqual([]);
    const flips = (await (await s.api("/api/v1/jobs/default/listed/flips", { token: alice.token })).json()) as { flips: any[] };
    expect(flips.flips.map((f) => f.to)).toContain("up");
  });
});

describe("status engine and alerts", () => {
  test("a job that misses its schedule goes late, then down when its grace is over, with exactly one alert; recovery sends exactly one resolve", async () => {
    const { ping_url } = await putJob("heartbeat", { schedule: "@every 2s", grace: 1 });
    await fetch(ping_url);
    await until(async () => (await job("heartbeat")).status === "up");
    // Expected 2 s after the ping: just before, still up; just after, late (no alert yet).
    clock.advance(1_990);
    await ticks(s);
    expect((await job("heartbeat")).status).toBe("up");
    clock.advance(20);
    await until(async () => (await job("heartbeat")).status === "late");
    // Down when the grace (1 s) is over, and not a moment before.
    clock.advance(980);
    await ticks(s);
    expect((await job("heartbeat")).status).toBe("late");
    expect(queued(s, "heartbeat")).toEqual([]);
    clock.advance(20);
    const down = await until(async () => (alertsFor("heartbeat").length ? alertsFor("heartbeat") : null));
    expect(down[0]!.json).toMatchObject({ event: "trigger", status: "down", job: { name: "heartbeat" } });
    // The signature is HMAC-SHA256 over the exact body with the channel's secret.
    const sig = new Bun.CryptoHasher("sha256", "s3cret").update(down[0]!.body).digest("hex");
    expect(down[0]!.headers.get("x-crontopus-signature")).toBe(`sha256=${sig}`);
    // Still down a minute later: no second alert.
    clock.advance(60_000);
    await ticks(s);
    expect(queued(s, "heartbeat")).toEqual(["trigger"]);
    await fetch(ping_url);
    await until(async () => alertsFor("heartbeat").length === 2);
    expect(alertsFor("heartbeat")[1]!.json).toMatchObject({ event: "resolve", status: "up" });
    const flips = ((await (await s.api("/api/v1/jobs/default/heartbeat/flips", { token: alice.token })).json()) as { flips: any[] }).flips;
    expect(flips.map((f) => f.to).reverse()).toEqual(["up", "late", "down", "up"]);
    await ticks(s);
    expect(queued(s, "heartbeat")).toEqual(["trigger", "resolve"]);
    expect(alertsFor("heartbeat").length).toBe(2);
  });

  test("a job late by its old schedule is no longer late once the schedule is changed: the new one is expected from now", async () => {
    const { ping_url } = await putJob("reschedule", { schedule: "@every 2s", grace: 60 });
    await fetch(ping_url);
    await until(async () => (await job("reschedule")).status === "up");
    clock.advance(2_010);
    await until(async () => (await job("reschedule")).status === "late");
    await putJob("reschedule", { schedule: "@every 1h", grace: 60 });
    const after = await job("reschedule");
    expect(after.status).toBe("up");
    // An hour from the edit (the answer gives whole seconds).
    expect(Math.abs(Date.parse(after.expected_at) - clock.now() - 3_600_000)).toBeLessThan(1000);
    // And it stays up: the old deadline is gone.
    clock.advance(60_000);
    await ticks(s);
    expect((await job("reschedule")).status).toBe("up");
    expect(queued(s, "reschedule")).toEqual([]);
  });

  test("a paused job's pings are recorded and never alert", async () => {
    const { ping_url } = await putJob("sleepy", { schedule: "@every 1s", grace: 1, paused: true });
    await fetch(ping_url + "/fail");
    await until(async () => (await runs("sleepy")).length === 1);
    // Many missed runs later: still paused, nothing queued.
    clock.advance(10_000);
    await ticks(s);
    expect((await job("sleepy")).status).toBe("paused");
    expect(queued(s, "sleepy")).toEqual([]);
  });

  test("alerts only the channels a job names", async () => {
    const other = startReceiver();
    const r = await s.api("/api/v1/channels", { method: "POST", token: alice.token, json: { name: "other", type: "webhook", config: { url: other.url } } });
    expect(r.status).toBe(201);
    const { ping_url } = await putJob("picky", { schedule: "@every 1h", alerts: { channels: ["other"] } });
    await fetch(ping_url + "/fail");
    await until(() => other.received.length === 1);
    // One notification queued, for the named channel only.
    const channels = s.db.query<{ name: string }, []>("SELECT c.name FROM notifications n JOIN channels c ON c.id = n.channel_id JOIN jobs j ON j.id = n.job_id WHERE j.name = 'picky'").all();
    expect(channels.map((c) => c.name)).toEqual(["other"]);
    expect(alertsFor("picky")).toEqual([]);
    other.stop();
  });
});

test("a restart in the middle of an outage loses no deadline and sends no duplicate alert", async () => {
  const dir = tempDir();
  const receiver = startReceiver();
  const time = new TestClock();
  let srv = await startTestServer({ ...ENV, CRONTOPUS_DATA_DIR: dir }, { clock: time });
  const bob = await persona(srv.db, "bob", "initech", "owner");
  await srv.api("/api/v1/channels", { method: "POST", token: bob.token, json: { name: "hook", type: "webhook", config: { url: receiver.url } } });
  const put = await srv.api("/api/v1/jobs/default/nightly", { method: "PUT", token: bob.token, json: { schedule: "@every 1s", grace: 1 } });
  const token = ((await put.json()) as { ping_url: string }).ping_url.split("/").pop()!;
  expect((await fetch(`${srv.url}/ping/${token}`)).status).toBe(200);
  await srv.close();

  // The deadline passes while the server is away; it comes back on the same data directory.
  time.advance(2_500);
  srv = await startTestServer({ ...ENV, CRONTOPUS_DATA_DIR: dir }, { clock: time });
  await until(() => receiver.received.length === 1);
  expect(receiver.received[0]!.json).toMatchObject({ event: "trigger", status: "down" });
  await srv.close();

  // Another restart while still down, and a minute more: nothing is queued or sent again.
  srv = await startTestServer({ ...ENV, CRONTOPUS_DATA_DIR: dir }, { clock: time });
  time.advance(60_000);
  await ticks(srv);
  expect(queued(srv, "nightly")).toEqual(["trigger"]);
  await fetch(`${srv.url}/ping/${token}`);
  await until(() => receiver.received.length === 2);
  expect(receiver.received[1]!.json).toMatchObject({ event: "resolve", status: "up" });
  await ticks(srv);
  expect(queued(srv, "nightly")).toEqual(["trigger", "resolve"]);
  expect(receiver.received.length).toBe(2);
  await srv.close();
  receiver.stop();
});
