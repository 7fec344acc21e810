// The agent protocol and the agents API over real HTTP: enrollment, tokens, the desired state
// with its ETag, reports, check-ins by agent and job tokens, tenant isolation, and an agent
// that goes offline: one alert for the host, its jobs' missed runs folded into it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { persona, startTestServer, type Persona, type TestServer } from "./helpers";
import { RECEIVER_ENV, startReceiver, until } from "./receiver";

let s: TestServer;
let alice: Persona, victor: Persona, charlie: Persona;
const receiver = startReceiver();

beforeAll(async () => {
  s = await startTestServer({ ...RECEIVER_ENV, CRONTOPUS_AGENT_INTERVAL: "1", CRONTOPUS_TICK_MS: "50" });
  alice = await persona(s.db, "alice", "acme", "owner");
  victor = await persona(s.db, "victor", "acme", "viewer");
  charlie = await persona(s.db, "charlie", "globex", "owner");
});
afterAll(async () => {
  await s.close();
  receiver.stop();
});

const as = (p: Persona) => (path: string, init: RequestInit & { json?: unknown } = {}) => s.api(path, { token: p.token, ...init });
const agentCall = (token: string, path: string, init: RequestInit & { json?: unknown } = {}) => s.api(`/api/v1/agent${path}`, { token, ...init });

async function enrollmentToken(p: Persona, body: Record<string, unknown> = {}): Promise<string> {
  const res = await as(p)("/api/v1/enrollment-tokens", { method: "POST", json: { name: "hosts", ...body } });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

function enroll(token: string, machine: string, extra: Record<string, unknown> = {}) {
  return s.api("/api/v1/agent/enroll", {
    method: "POST",
    json: { token, hostname: `${machine}.example.com`, platform: "linux", arch: "x64", scheduler: "crontab", machine_id: machine, ...extra },
  });
}

describe("enrollment", () => {
  test("viewers cannot create enrollment tokens; owners can, and see them without their secret", async () => {
    expect((await as(victor)("/api/v1/enrollment-tokens", { method: "POST", json: { name: "x" } })).status).toBe(403);
    const token = await enrollmentToken(alice, { labels: { role: "db" } });
    const list = await (await as(alice)("/api/v1/enrollment-tokens")).text();
    expect(list).toContain(token.slice(0, 8));
    expect(list).not.toContain(token);
  });

  test("a used-up token is refused with 401, and enrolling again on the same machine keeps the agent and revokes its old token", async () => {
    const token = await enrollmentToken(alice, { max_uses: 2, labels: { role: "db" } });
    const first = await enroll(token, "m-reuse", { name: "db1" });
    expect(first.status).toBe(201);
    const a1 = (await first.json()) as { agent: { id: string; labels: Record<string, string> }; token: string };
    expect(a1.token).toMatch(/^cta_/);
    expect(a1.agent.labels).toEqual({ role: "db" });
    const again = await enroll(token, "m-reuse", { name: "db1", labels: { tier: "1" } });
    expect(again.status).toBe(200);
    const a2 = (await again.json()) as { agent: { id: string; labels: Record<string, string> }; token: string };
    expect(a2.agent.id).toBe(a1.agent.id);
    expect(a2.agent.labels).toEqual({ role: "db", tier: "1" });
    expect((await agentCall(a1.token, "/heartbeat", { method: "POST", json: {} })).status).toBe(401);
    expect((await agentCall(a2.token, "/heartbeat", { method: "POST", json: {} })).status).toBe(200);
    const third = await enroll(token, "m-other");
    expect(third.status).toBe(401);
    expect(((await third.json()) as any).error.message).toContain("used up");
  });

  test("enrolling again keeps the name and the labels an operator set since, unless given anew", async () => {
    const token = await enrollmentToken(alice, { labels: { role: "web" } });
    const first = (await (await enroll(token, "m-keep", { name: "web7" })).json()) as { agent: { id: string } };
    const patched = await as(alice)(`/api/v1/agents/${first.agent.id}`, { method: "PATCH", json: { labels: { role: "web", rack: "r2" } } });
    expect(patched.status).toBe(200);
    const again = (await (await enroll(token, "m-keep")).json()) as { agent: { name: string; labels: Record<string, string> } };
    expect(again.agent.name).toBe("web7");
    expect(again.agent.labels).toEqual({ role: "web", rack: "r2" });
    const renamed = (await (await enroll(token, "m-keep", { name: "web8", labels: { rack: "r3" } })).json()) as { agent: { name: string; labels: Record<string, string> } };
    expect(renamed.agent).toMatchObject({ name: "web8", labels: { role: "web", rack: "r3" } });
  });

  test("a bad enrollment names the field", async () => {
    const token = await enrollmentToken(alice);
    const res = await enroll(token, "m-bad", { name: "no spaces please" });
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error.message).toStartWith("name:");
  });
});

describe("desired state, reports and check-ins", () => {
  let agentToken: string;
  let agentId: string;
  let jobId: string;

  beforeAll(async () => {
    const res = await enroll(await enrollmentToken(alice, { labels: { role: "web" } }), "m-web", { name: "web1" });
    const body = (await res.json()) as { agent: { id: string }; token: string };
    agentToken = body.token;
    agentId = body.agent.id;
    const job = await as(alice)("/api/v1/jobs", {
      method: "POST",
      json: { name: "rotate", schedule: "0 3 * * *", command: "/usr/sbin/logrotate /etc/logrotate.conf", agent: { selector: { role: "web" } }, env: { A: "1" } },
    });
    jobId = ((await job.json()) as { id: string }).id;
    // Not for this host: another role, and a ping-only job.
    await as(alice)("/api/v1/jobs", { method: "POST", json: { name: "db-dump", schedule: "@daily", command: "pg_dump", agent: { selector: { role: "db" } } } });
    await as(alice)("/api/v1/jobs", { method: "POST", json: { name: "ping-only", schedule: "@daily", agent: { selector: { role: "web" } } } });
  });

  test("the desired state lists the host's jobs, with an ETag; If-None-Match gives 304 until a job changes", async () => {
    const res = await agentCall(agentToken, "/desired-state");
    expect(res.status).toBe(200);
    const etag = res.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const state = (await res.json()) as any;
    expect(state.jobs.map((j: any) => j.name)).toEqual(["rotate"]);
    expect(state.jobs[0]).toMatchObject({ id: jobId, command: "/usr/sbin/logrotate /etc/logrotate.conf", env: { A: "1" }, paused: false, user: null });
    expect(state.jobs[0].checkin_token).toBeString();

    expect((await agentCall(agentToken, "/desired-state", { headers: { "if-none-match": etag } })).status).toBe(304);
    await as(alice)("/api/v1/jobs/default/rotate/pause", { method: "POST" });
    const changed = await agentCall(agentToken, "/desired-state", { headers: { "if-none-match": etag } });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as any).jobs[0].paused).toBe(true);
    await as(alice)("/api/v1/jobs/default/rotate/resume", { method: "POST" });
  });

  test("a report records each job's state and the host's unmanaged entries; the agent shows them", async () => {
    const res = await agentCall(agentToken, "/report", {
      method: "POST",
      json: {
        jobs: [{ job_id: jobId, state: "error", message: "command too long" }],
        discovered: [{ id: "abc123", user: "root", schedule: "0 5 * * *", command: "/usr/local/bin/report", line: "0 5 * * * /usr/local/bin/report" }],
      },
    });
    expect(res.status).toBe(200);
    const detail = (await (await as(alice)(`/api/v1/agents/${agentId}`)).json()) as any;
    expect(detail.jobs).toEqual([expect.objectContaining({ job: "default/rotate", state: "error", message: "command too long" })]);
    expect(detail.discovered).toEqual([expect.objectContaining({ id: "abc123", user: "root", schedule: "0 5 * * *" })]);
    const bad = await agentCall(agentToken, "/report", { method: "POST", json: { jobs: [{ job_id: jobId, state: "exploded" }] } });
    expect(bad.status).toBe(422);
  });

  test("check-ins: the agent token for its tenant's jobs, a job's token for that job only", async () => {
    const ok = await s.api("/api/v1/checkins", { token: agentToken, method: "POST", json: { job: "default/rotate", kind: "success", host: "web1" } });
    expect(ok.status).toBe(200);
    const state = (await (await agentCall(agentToken, "/desired-state")).json()) as any;
    const jobToken = state.jobs[0].checkin_token;
    expect((await s.api("/api/v1/checkins", { token: jobToken, method: "POST", json: { job: jobId, kind: "start" } })).status).toBe(200);
    expect((await s.api("/api/v1/checkins", { token: jobToken, method: "POST", json: { job: "default/db-dump", kind: "success" } })).status).toBe(403);
    expect((await s.api("/api/v1/checkins", { token: "not-a-token", method: "POST", json: { job: jobId, kind: "success" } })).status).toBe(401);
    // Another tenant's job does not exist for this agent.
    const other = await as(charlie)("/api/v1/jobs", { method: "POST", json: { name: "secret", schedule: "@daily" } });
    const otherId = ((await other.json()) as { id: string }).id;
    expect((await s.api("/api/v1/checkins", { token: agentToken, method: "POST", json: { job: otherId, kind: "success" } })).status).toBe(404);
  });

  test("another tenant sees no agents and gets 404 for this one; viewers read but cannot delete", async () => {
    expect(((await (await as(charlie)("/api/v1/agents")).json()) as any).agents).toEqual([]);
    expect((await as(charlie)(`/api/v1/agents/${agentId}`)).status).toBe(404);
    expect((await as(charlie)(`/api/v1/agents/${agentId}`, { method: "DELETE" })).status).toBe(404);
    expect((await as(victor)(`/api/v1/agents/${agentId}`)).status).toBe(200);
    expect((await as(victor)(`/api/v1/agents/${agentId}`, { method: "DELETE" })).status).toBe(403);
  });

  test("PATCH renames and relabels; the job's agents follow the selector", async () => {
    // Agents and a job of its own role: relabelling web1 would take rotate away from the other tests.
    expect((await enroll(await enrollmentToken(alice, { labels: { role: "cache" } }), "m-cache", { name: "cache1" })).status).toBe(201);
    const web = (await (await enroll(await enrollmentToken(alice, { labels: { role: "web" } }), "m-web2", { name: "web2" })).json()) as { agent: { id: string }; token: string };
    const job = await as(alice)("/api/v1/jobs", { method: "POST", json: { name: "cache-warm", schedule: "@daily", command: "warm-cache", agent: { selector: { role: "cache" } } } });
    expect(job.status).toBe(201);
    const res = await as(alice)(`/api/v1/agents/${web.agent.id}`, { method: "PATCH", json: { name: "web-2", labels: { role: "cache" } } });
    expect(res.status).toBe(200);
    const state = (await (await agentCall(web.token, "/desired-state")).json()) as any;
    expect(state.jobs.map((j: any) => j.name)).toEqual(["cache-warm"]);
    const agents = (await (await as(alice)("/api/v1/jobs/default/cache-warm/agents")).json()) as any;
    // cache1 (enrolled with role=cache) and now web-2.
    expect(agents.agents.map((a: any) => a.name).sort()).toEqual(["cache1", "web-2"]);
    expect(agents.agents.find((a: any) => a.name === "web-2")).toMatchObject({ assigned: true, state: "pending" });
  });
});

describe("an agent that stops sending heartbeats", () => {
  test("goes offline after three intervals with one alert; its job's missed run is folded into it; the heartbeat resolves it", async () => {
    await as(alice)("/api/v1/channels", { method: "POST", json: { name: "hook", type: "webhook", config: { url: receiver.url } } });
    const res = await enroll(await enrollmentToken(alice, { labels: { role: "batch" } }), "m-batch", { name: "batch1" });
    const { token } = (await res.json()) as { token: string };
    const job = (await (
      await as(alice)("/api/v1/jobs", {
        method: "POST",
        json: { name: "every5", schedule: "@every 5s", grace: "1s", command: "true", agent: { selector: { role: "batch" } } },
      })
    ).json()) as { id: string; ping_url: string };
    await agentCall(token, "/report", { method: "POST", json: { jobs: [{ job_id: job.id, state: "applied" }] } });
    await agentCall(token, "/heartbeat", { method: "POST", json: {} });
    expect((await fetch(job.ping_url)).status).toBe(200);

    // Offline ~3 s after the last heartbeat; the job is down ~6 s after its ping.
    const offline = await until(() => receiver.received.find((r) => r.json?.agent?.name === "batch1" && r.json.event === "trigger"), 6000);
    expect(offline.json.status).toBe("offline");
    expect(offline.json.reason).toContain("default/every5");
    await until(async () => {
      const flips = (await (await as(alice)("/api/v1/jobs/default/every5/flips")).json()) as any;
      return flips.flips.some((f: any) => f.to === "down");
    }, 8000);
    const flips = (await (await as(alice)("/api/v1/jobs/default/every5/flips")).json()) as any;
    expect(flips.flips.find((f: any) => f.to === "down").reason).toContain("folded");
    await Bun.sleep(300);
    expect(receiver.received.filter((r) => r.json?.job?.name === "every5")).toEqual([]);

    const agents = (await (await as(alice)("/api/v1/agents?status=offline")).json()) as any;
    expect(agents.agents.map((a: any) => a.name)).toContain("batch1");
    expect(agents.agents.every((a: any) => a.status === "offline")).toBe(true);
    await agentCall(token, "/heartbeat", { method: "POST", json: {} });
    const back = await until(() => receiver.received.find((r) => r.json?.agent?.name === "batch1" && r.json.event === "resolve"));
    expect(back.json.status).toBe("online");
    expect(receiver.received.filter((r) => r.json?.agent?.name === "batch1")).toHaveLength(2);
  }, 20_000);
});
