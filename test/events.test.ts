// Live updates over real HTTP: alice (acme) keeps the event stream open while her jobs are
// pinged; charlie (globex) listens to his own tenant; victor is acme's viewer. The server runs on
// a clock the tests move, so heartbeats and deadlines come when a test says, not after sleeping.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { putJob } from "../src/jobs/jobs";
import { HEARTBEAT_MS } from "../src/events/hub";
import { createApiToken } from "../src/auth/apitokens";
import { PASSWORD, persona, startTestServer, TestClock, type Persona, type TestServer } from "./helpers";
import { dataOf, openEvents, type SseMessage, type SseStream } from "./sse";

let s: TestServer;
let alice: Persona, charlie: Persona, victor: Persona;
const clock = new TestClock();
const open: SseStream[] = [];

beforeAll(async () => {
  s = await startTestServer({}, { clock });
  alice = await persona(s.db, "alice", "acme", "owner");
  victor = await persona(s.db, "victor", "acme", "viewer");
  charlie = await persona(s.db, "charlie", "globex", "owner");
});
afterAll(async () => {
  for (const st of open) st.close();
  await s?.close();
});

async function listen(init: Parameters<typeof openEvents>[1]): Promise<SseStream> {
  const st = await openEvents(s.url, init);
  open.push(st);
  return st;
}

type JobAnswer = { id: string; ping_url: string; namespace: string; name: string };
async function job(p: Persona, ns: string, name: string, spec: Record<string, unknown> = { schedule: "@every 1h" }): Promise<JobAnswer> {
  const r = await s.api(`/api/v1/jobs/${ns}/${name}`, { method: "PUT", token: p.token, json: spec });
  expect(r.status).toBeLessThan(300);
  return (await r.json()) as JobAnswer;
}

const isJob = (id: string, status?: string) => (m: SseMessage) => m.event === "job" && dataOf(m).id === id && (status === undefined || dataOf(m).status === status);
const isRunOf = (id: string, status?: string) => (m: SseMessage) => m.event === "run" && dataOf(m).job_id === id && (status === undefined || dataOf(m).status === status);

describe("the tenant's stream", () => {
  test("shows a ping's effect within a second of its 200: the job's new status and the run", async () => {
    const stream = await listen({ token: alice.token });
    expect(stream.status).toBe(200);
    expect(stream.response.headers.get("content-type")).toStartWith("text/event-stream");
    const backup = await job(alice, "ops", "backup");
    const ping = await fetch(`${backup.ping_url}/7`, { method: "POST", body: "disk full" });
    expect(ping.status).toBe(200);
    const answered = performance.now();
    const [jobEvent, runEvent] = await Promise.all([stream.next(isJob(backup.id, "failed")), stream.next(isRunOf(backup.id))]);
    expect(Math.max(jobEvent.at, runEvent.at) - answered).toBeLessThan(1000);
    // What a page needs to redraw itself: the fields and formats of the job and run objects.
    const shown = (await (await s.api("/api/v1/jobs/ops/backup", { token: alice.token })).json()) as Record<string, unknown>;
    const data = dataOf(jobEvent);
    for (const k of ["id", "namespace", "name", "status", "status_since", "last_ping_at", "last_failure_at", "last_exit_code", "consecutive_failures", "checkins_total", "expected_at"]) {
      expect({ field: k, value: data[k] }).toEqual({ field: k, value: shown[k] });
    }
    const runs = (await (await s.api("/api/v1/runs?job=ops/backup", { token: alice.token })).json()) as { runs: Record<string, unknown>[] };
    expect(dataOf(runEvent)).toEqual(runs.runs[0]!);
    expect(dataOf(runEvent)).toMatchObject({ status: "failed", exit_code: 7, reason: "exit code 7" });
  });

  test("another tenant's stream hears nothing of it, and a viewer's stream hears all of it", async () => {
    const acme = await listen({ token: victor.token });
    const globex = await listen({ token: charlie.token });
    const secret = await job(alice, "secret-ns", "launch-codes");
    const own = await job(charlie, "default", "charlies-job");
    expect((await fetch(secret.ping_url)).status).toBe(200);
    await acme.next(isJob(secret.id, "up"));
    // Events leave in one pass over every tenant: once charlie hears of his own later ping,
    // anything of acme's would have reached him before it.
    expect((await fetch(own.ping_url)).status).toBe(200);
    await globex.next(isJob(own.id, "up"));
    const heard = globex.messages.map((m) => m.data).join("\n");
    expect(heard).not.toContain(secret.id);
    expect(heard).not.toContain("launch-codes");
    expect(heard).not.toContain("secret-ns");
    expect(globex.messages.every((m) => ["job", "run"].includes(m.event) && m.data.includes(own.id))).toBe(true);
  });

  test("is refused without credentials (401) and to a token without the read scope (403)", async () => {
    const anonymous = await s.api("/api/v1/events");
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    const wrong = await s.api("/api/v1/events", { token: "ctp_not-a-token" });
    expect(wrong.status).toBe(401);
    await wrong.body?.cancel();
    const aliceId = alice.id;
    const tenantId = s.db.query<{ id: string }, []>("SELECT id FROM tenants WHERE slug = 'acme'").get()!.id;
    const writeOnly = createApiToken(s.db, tenantId, aliceId, { name: "ci-write", scopes: ["write"] }).token;
    const refused = await s.api("/api/v1/events", { token: writeOnly });
    expect(refused.status).toBe(403);
    await refused.body?.cancel();
  });

  test("works with the console's session cookie too", async () => {
    const login = await s.api("/api/v1/auth/login", { method: "POST", json: { email: alice.email, password: PASSWORD } });
    expect(login.status).toBe(200);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const stream = await listen({ cookie });
    expect(stream.status).toBe(200);
    const nightly = await job(alice, "ops", "nightly");
    await fetch(nightly.ping_url);
    await stream.next(isJob(nightly.id, "up"));
  });

  test("tells of a job's deletion, and of a new job", async () => {
    const stream = await listen({ token: alice.token });
    const temp = await job(alice, "ops", "temporary");
    await stream.next(isJob(temp.id, "new"));
    expect((await s.api("/api/v1/jobs/ops/temporary", { method: "DELETE", token: alice.token })).status).toBe(204);
    const gone = await stream.next((m) => m.event === "job-deleted" && dataOf(m).id === temp.id);
    expect(dataOf(gone)).toEqual({ id: temp.id, namespace: "ops", name: "temporary" });
  });
});

describe("agents", () => {
  test("an agent's enrollment, heartbeat and report reach the stream as the agents API shows it; its removal too", async () => {
    const stream = await listen({ token: victor.token });
    const enrollment = (await (await s.api("/api/v1/enrollment-tokens", { method: "POST", token: alice.token, json: { name: "hosts" } })).json()) as { token: string };
    const enrolled = await s.api("/api/v1/agent/enroll", {
      method: "POST",
      json: { token: enrollment.token, hostname: "db1.example.com", platform: "linux", arch: "x64", scheduler: "crontab", machine_id: "m-db1", version: "0.1.0" },
    });
    expect(enrolled.status).toBe(201);
    const agent = (await enrolled.json()) as { agent: { id: string }; token: string };
    await stream.next((m) => m.event === "agent" && dataOf(m).id === agent.agent.id);
    const beat = await s.api("/api/v1/agent/heartbeat", { method: "POST", token: agent.token, json: { version: "0.2.0" } });
    expect(beat.status).toBe(200);
    const seen = await stream.next((m) => m.event === "agent" && dataOf(m).version === "0.2.0");
    const listed = (await (await s.api(`/api/v1/agents/${agent.agent.id}`, { token: alice.token })).json()) as Record<string, unknown>;
    for (const k of ["id", "name", "hostname", "status", "status_since", "version", "last_seen_at", "labels"]) {
      expect({ field: k, value: dataOf(seen)[k] }).toEqual({ field: k, value: listed[k] });
    }
    const reported = await s.api("/api/v1/agent/report", { method: "POST", token: agent.token, json: { jobs: [] } });
    expect(reported.status).toBeLessThan(300);
    await stream.next((m) => m.event === "agent" && dataOf(m).id === agent.agent.id && dataOf(m).last_sync_at !== null);
    expect((await s.api(`/api/v1/agents/${agent.agent.id}`, { method: "DELETE", token: alice.token })).status).toBe(204);
    await stream.next((m) => m.event === "agent-deleted" && dataOf(m).id === agent.agent.id);
  });
});

describe("time", () => {
  test("a job that misses its check-in turns late, then down, on the stream as the clock passes its deadlines", async () => {
    const stream = await listen({ token: alice.token });
    const minutely = await job(alice, "ops", "minutely", { schedule: "@every 1m", grace: "1m" });
    await fetch(minutely.ping_url);
    await stream.next(isJob(minutely.id, "up"));
    clock.advance(61_000);
    const late = await stream.next(isJob(minutely.id, "late"));
    clock.advance(60_000);
    const down = await stream.next(isJob(minutely.id, "down"));
    expect(dataOf(down).status_since).not.toBe(dataOf(late).status_since);
  });

  test("every stream gets a heartbeat; a revoked token's and a logged-out session's end there, the others stay", async () => {
    const created = (await (await s.api("/api/v1/tokens", { method: "POST", token: alice.token, json: { name: "dashboard-tv" } })).json()) as { id: string; token: string };
    const login = await s.api("/api/v1/auth/login", { method: "POST", json: { email: alice.email, password: PASSWORD } });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const tv = await listen({ token: created.token });
    const console_ = await listen({ cookie });
    const keeps = await listen({ token: alice.token });
    // Revoked and logged out while listening: nothing ends yet.
    expect((await s.api(`/api/v1/tokens/${created.id}`, { method: "DELETE", token: alice.token })).status).toBe(204);
    expect((await s.api("/api/v1/auth/logout", { method: "POST", headers: { cookie } })).status).toBeLessThan(300);
    clock.advance(HEARTBEAT_MS);
    expect(await Promise.race([tv.ended, Bun.sleep(5000).then(() => "still open")])).toBe("end");
    expect(await Promise.race([console_.ended, Bun.sleep(5000).then(() => "still open")])).toBe("end");
    for (let i = 0; i < 100 && !keeps.comments.includes("heartbeat"); i++) await Bun.sleep(20);
    expect(keeps.comments).toContain("heartbeat");
    expect(await Promise.race([keeps.ended, Bun.sleep(200).then(() => "still open")])).toBe("still open");
    // And it still hears what happens.
    const after = await job(alice, "ops", "after-heartbeat");
    await fetch(after.ping_url);
    await keeps.next(isJob(after.id, "up"));
  });
});

describe("reconnecting", () => {
  test("with Last-Event-ID, a client gets what it missed, in order; with an id it cannot resume, a reset", async () => {
    const flaky = await job(alice, "ops", "flaky");
    const watcher = await listen({ token: alice.token });
    const phone = await listen({ token: alice.token });
    await fetch(flaky.ping_url);
    await phone.next(isJob(flaky.id, "up"));
    const seen = phone.lastId!;
    phone.close();
    // While the phone is away.
    await fetch(`${flaky.ping_url}/fail`);
    await watcher.next(isJob(flaky.id, "failed"));
    await fetch(flaky.ping_url);
    await watcher.next((m) => isJob(flaky.id, "up")(m) && dataOf(m).checkins_total === 3);
    const missed = watcher.messages.slice(watcher.messages.findIndex((m) => m.id === seen) + 1);
    expect(missed.length).toBeGreaterThanOrEqual(4);

    const back = await listen({ token: alice.token, lastEventId: seen });
    await back.next((m) => m.id === missed.at(-1)!.id);
    expect(back.messages.slice(0, missed.length).map((m) => [m.id, m.event, m.data])).toEqual(missed.map((m) => [m.id, m.event, m.data]));
    expect(back.messages.filter((m) => m.data.includes(flaky.id)).map((m) => `${m.event} ${dataOf(m).status}`)).toEqual(["job failed", "run failed", "job up", "run success"]);

    const stale = await listen({ token: alice.token, lastEventId: "0abc-12" });
    const reset = await stale.next((m) => m.event === "reset");
    expect(reset.id).toBeTruthy();
  });
});

describe("a slow client", () => {
  test("is dropped once too far behind; pings are answered as before and other listeners keep up", async () => {
    // A server that sends up to 1 MiB a window (64 KiB otherwise), so that filling the kernel's
    // buffers for the slow client takes seconds, not a minute; the bound per client is the same.
    const s = await startTestServer({}, { eventWindowBytes: 1 << 20 });
    const alice = await persona(s.db, "dora", "initech");
    const listen = async (init: Parameters<typeof openEvents>[1]) => openEvents(s.url, init);
    const tenantId = s.db.query<{ id: string }, []>("SELECT id FROM tenants WHERE slug = 'initech'").get()!.id;
    const names = Array.from({ length: 300 }, (_, i) => `load-${String(i).padStart(4, "0")}`);
    const urls = names.map((n) => `${s.url}/ping/${putJob(s.db, tenantId, "load", n, { schedule: "@every 1h" }, clock.now()).job.ping_token}`);
    // Agents with as many labels as an agent may carry: their events weigh some 17 kB each.
    const labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`label-${i}`, "v".repeat(250)]));
    const enrollment = (await (await s.api("/api/v1/enrollment-tokens", { method: "POST", token: alice.token, json: { name: "fleet", labels } })).json()) as { token: string };
    const agents: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await s.api("/api/v1/agent/enroll", {
        method: "POST",
        json: { token: enrollment.token, hostname: `web${i}.example.com`, platform: "linux", arch: "x64", scheduler: "crontab", machine_id: `m-web${i}` },
      });
      expect(r.status).toBe(201);
      agents.push(((await r.json()) as { token: string }).token);
    }
    const fast = await listen({ token: alice.token });
    // A real client that reads nothing, with a small receive buffer (the server's send buffer
    // still takes a few megabytes before the hub's own bound is reached).
    const slow = Bun.spawn(
      [
        "python3",
        "-c",
        `import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", ${s.port}))
s.sendall(b"GET /api/v1/events HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nAuthorization: Bearer ${alice.token}\\r\\n\\r\\n")
print("connected", flush=True)
sys.stdin.readline()
s.settimeout(10)
try:
    while s.recv(65536): pass
    print("closed")
except (ConnectionResetError, BrokenPipeError): print("closed")
except socket.timeout: print("open")
`,
      ],
      { stdin: "pipe", stdout: "pipe" },
    );
    const out = slow.stdout.getReader();
    expect(new TextDecoder().decode((await out.read()).value)).toContain("connected");
    const dropped = s.ctx.events.stats().dropped;

    const statuses = new Map<number, number>();
    let rounds = 0;
    const until = performance.now() + 60_000;
    while (s.ctx.events.stats().dropped === dropped && performance.now() < until) {
      const beats = agents.map((token) => s.api("/api/v1/agent/heartbeat", { method: "POST", token, json: {} }).then((r) => r.status));
      const pings = urls.map((u) => fetch(u, { method: "POST", body: "ok" }).then((r) => r.status));
      for (const st of await Promise.all([...beats, ...pings])) statuses.set(st, (statuses.get(st) ?? 0) + 1);
      rounds++;
    }
    expect(s.ctx.events.stats().dropped).toBe(dropped + 1);
    expect([...statuses.keys()]).toEqual([200]);
    // The one who reads still hears the newest ping, once through what the flood queued for it.
    const last = await fetch(urls[0]!, { method: "POST", body: "last" });
    expect(last.status).toBe(200);
    const answered = performance.now();
    const seen = await fast.next((m) => m.event === "job" && dataOf(m).name === names[0] && dataOf(m).checkins_total === rounds + 1, 10_000);
    expect(seen.at - answered).toBeLessThan(5000);
    expect(await Promise.race([fast.ended, Bun.sleep(100).then(() => "open")])).toBe("open");
    // And the slow one's connection was closed by the server.
    slow.stdin.write("read\n");
    slow.stdin.end();
    expect(new TextDecoder().decode((await out.read()).value)).toContain("closed");
    await slow.exited;
    fast.close();
    await s.close();
  }, 120_000);
});

describe("stopping the server", () => {
  test("ends every stream cleanly, without waiting", async () => {
    const other = await startTestServer();
    const bob = await persona(other.db, "bob", "initech");
    const a = await openEvents(other.url, { token: bob.token });
    const b = await openEvents(other.url, { token: bob.token });
    const t0 = performance.now();
    await other.close();
    expect(await a.ended).toBe("end");
    expect(await b.ended).toBe("end");
    // Streams never finish by themselves: stop would otherwise wait its 2 s for them.
    expect(performance.now() - t0).toBeLessThan(1900);
  });
});
