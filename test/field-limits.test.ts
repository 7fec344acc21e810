// Every stored text has a limit, enforced in the services with 422 naming the field (the
// limits are listed in docs/api.md "Sizes" and docs/job-manifest.md), and label maps given as
// anything but a map are refused as job labels are. alice owns acme and its agents.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { persona, startTestServer, type Persona, type TestServer } from "./helpers";

let s: TestServer;
let alice: Persona;

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme");
});
afterAll(() => s.close());

const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;
const api = (path: string, method: string, json: unknown) => s.api(path, { method, token: alice.token, json });

async function enrolled(machine: string) {
  const et = (await (await api("/api/v1/enrollment-tokens", "POST", { name: "hosts" })).json()) as { token: string };
  const body = { token: et.token, hostname: `${machine}.example.com`, platform: "linux", arch: "x64", scheduler: "crontab", machine_id: machine };
  const r = (await (await s.api("/api/v1/agent/enroll", { method: "POST", json: body })).json()) as { agent: { id: string }; token: string };
  return { et: et.token, body, id: r.agent.id, token: r.token };
}

describe("string fields have limits", () => {
  test("a 100 KB command is 422 naming the command, in both shapes of a job", async () => {
    const command = "x".repeat(100_000);
    const plain = await api("/api/v1/jobs", "POST", { name: "long", schedule: "@every 1h", command });
    expect(plain.status).toBe(422);
    expect((await errorOf(plain)).message).toBe("command: must be at most 4096 characters (got 100000)");
    const manifest = await api("/api/v1/jobs/default/long", "PUT", { apiVersion: "crontopus/v1", kind: "Job", metadata: { name: "long" }, spec: { schedule: "@every 1h", command } });
    expect((await errorOf(manifest)).message).toBe("spec.command: must be at most 4096 characters (got 100000)");
    expect((await api("/api/v1/jobs", "POST", { name: "short", schedule: "@every 1h", command: "x".repeat(4096) })).status).toBe(201);
  });

  test("args, env, labels, annotations and the working directory are bounded too", async () => {
    const job = (extra: Record<string, unknown>) => api("/api/v1/jobs", "POST", { name: "bounded", schedule: "@every 1h", command: "/bin/true", ...extra });
    const cases: [Record<string, unknown>, string][] = [
      [{ args: ["a".repeat(5000)] }, "args[0]: must be at most 4096 characters (got 5000)"],
      [{ args: Array(300).fill("a") }, "args: must hold at most 256 items (got 300)"],
      [{ env: { HUGE: "v".repeat(5000) } }, "env.HUGE: must be at most 4096 characters (got 5000)"],
      [{ labels: { team: "t".repeat(300) } }, "labels.team: must be at most 253 characters (got 300)"],
      [{ annotations: { note: "n".repeat(5000) } }, "annotations.note: must be at most 4096 characters (got 5000)"],
      [{ working_dir: "/" + "d".repeat(5000) }, "working_dir: must be at most 4096 characters (got 5001)"],
      [{ schedule: "@every " + "1".repeat(300) + "s" }, "schedule: must be at most 256 characters (got 308)"],
    ];
    for (const [extra, message] of cases) expect((await errorOf(await job(extra))).message).toBe(message);
  });

  test("tenant, user and channel texts are bounded", async () => {
    expect((await errorOf(await api("/api/v1/tenants/current", "PATCH", { name: "n".repeat(201) }))).message).toMatch(/^name: /);
    const invitation = await api("/api/v1/tenants/current/invitations", "POST", { email: `${"d".repeat(250)}@example.com`, role: "member" });
    expect((await errorOf(invitation)).message).toBe("email: must be at most 254 characters (got 262)");
    const hook = await api("/api/v1/channels", "POST", { name: "hook", type: "webhook", config: { url: "https://hooks.example.com/" + "p".repeat(5000) } });
    expect((await errorOf(hook)).message).toBe("config.url: must be at most 4096 characters (got 5026)");
  });

  test("what an agent reports about its host is bounded", async () => {
    const a = await enrolled("limits-host");
    const report = (json: unknown) => s.api("/api/v1/agent/report", { method: "POST", token: a.token, json });
    const line = { id: "d1", schedule: "* * * * *", command: "c".repeat(9000), line: "* * * * * c" };
    const r = await report({ jobs: [], discovered: [line] });
    expect(r.status).toBe(422);
    expect((await errorOf(r)).message).toBe("discovered[0].command: must be at most 8192 characters (got 9000)");
    const hb = await s.api("/api/v1/agent/heartbeat", { method: "POST", token: a.token, json: { version: "v".repeat(100) } });
    expect((await errorOf(hb)).message).toBe("version: must be at most 64 characters (got 100)");
  });
});

describe("label maps given as anything but a map are 422, as job labels are", () => {
  test("on enrollment tokens, PATCH /agents/:id and enroll", async () => {
    for (const labels of ["abc", ["a", "b"], 7]) {
      const token = await api("/api/v1/enrollment-tokens", "POST", { name: "web", labels });
      expect({ labels, status: token.status }).toEqual({ labels, status: 422 });
      expect((await errorOf(token)).message).toBe("labels: expected a map of string to string");
    }
    const a = await enrolled("labels-host");
    const patch = await api(`/api/v1/agents/${a.id}`, "PATCH", { labels: "abc" });
    expect(patch.status).toBe(422);
    expect((await errorOf(patch)).message).toBe("labels: expected a map of string to string");
    const again = await s.api("/api/v1/agent/enroll", { method: "POST", json: { ...a.body, labels: "abc" } });
    expect(again.status).toBe(422);
    expect((await errorOf(again)).message).toBe("labels: expected a map of string to string");
    // A job's labels, for comparison.
    const job = await api("/api/v1/jobs", "POST", { name: "labelled", schedule: "@every 1h", labels: "abc" });
    expect(job.status).toBe(422);
  });
});
