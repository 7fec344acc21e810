// Check-ins with impossible times: alice's backup job reports through the API with its own
// ping token (as `crontopus exec` does). Every client-given time lies within the tenant's
// retention and at most 5 minutes ahead; durations are at most 31 days and fit the times.
// A database written before that rule (migration 0006) is repaired, and no stored time breaks a read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";
import { migrate, openDb } from "../src/db";
import { MIGRATIONS } from "../src/migrations";
import { createUser } from "../src/auth/identity";
import { createTenant } from "../src/tenants/tenants";
import { putJob, getJob, jobJson } from "../src/jobs/jobs";
import { CheckinWriter, type CheckinEvent } from "../src/checkins/writer";
import { Engine } from "../src/monitor/engine";
import { createLogger } from "../src/log";
import { listRuns } from "../src/runs/runs";
import { readClientTimes } from "../src/checkins/checkins";

const MIN = 60_000;
const DAY = 86_400_000;
const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;

let s: TestServer;
let alice: Persona;
let pingToken: string;

beforeAll(async () => {
  s = await startTestServer();
  alice = await persona(s.db, "alice", "acme");
  const r = await s.api("/api/v1/jobs", { method: "POST", token: alice.token, json: { name: "backup", schedule: "@every 1h" } });
  pingToken = ((await r.json()) as { ping_url: string }).ping_url.split("/").pop()!;
});
afterAll(() => s.close());

const checkin = (body: Record<string, unknown>) => s.api("/api/v1/checkins", { method: "POST", token: pingToken, json: { job: "backup", ...body } });

async function tenantReadsAnswer() {
  for (const path of ["/api/v1/jobs", "/api/v1/jobs/default/backup", "/api/v1/runs", "/api/v1/runs?job=default/backup"]) {
    const r = await s.api(path, { token: alice.token });
    expect({ path, status: r.status }).toEqual({ path, status: 200 });
  }
}

describe("check-ins with impossible times are refused", () => {
  test("a duration of 9000000000000000 ms is 422 naming duration_ms, is not stored, and the tenant's reads keep answering", async () => {
    const r = await checkin({ kind: "success", started_at: Date.now() - 1000, duration_ms: 9000000000000000 });
    expect(r.status).toBe(422);
    expect(await errorOf(r)).toEqual({ code: "validation_failed", message: expect.stringMatching(/^duration_ms: /), details: expect.any(Array) } as never);
    for (const kind of ["success", "fail", "log"]) {
      const alone = await checkin({ kind, duration_ms: 9000000000000000, ...(kind === "fail" ? { exit_code: 1 } : {}) });
      expect((await errorOf(alone)).message).toBe("duration_ms: must be at most 31 days (2678400000 ms)");
    }
    await tenantReadsAnswer();
    const job = (await (await s.api("/api/v1/jobs/default/backup", { token: alice.token })).json()) as { last_duration_ms: number | null; expected_at: string };
    expect(job.last_duration_ms).toBeNull();
    // Still expected within the hour: the job can go late.
    expect(Date.parse(job.expected_at)).toBeLessThanOrEqual(Date.now() + 60 * MIN);
  });

  test("a start at -100000000000000000 is 422 naming started_at, and /runs keeps answering", async () => {
    for (const kind of ["start", "success"]) {
      const r = await checkin({ kind, started_at: -100000000000000000 });
      expect(r.status).toBe(422);
      expect((await errorOf(r)).message).toBe("started_at: is older than the tenant's retention of 90 days");
    }
    await tenantReadsAnswer();
  });

  test("times up to 5 minutes ahead are taken (clock skew), later ones are refused, `at` included", async () => {
    await s.api("/api/v1/jobs", { method: "POST", token: alice.token, json: { name: "skewed", schedule: "@every 1h" } });
    const ahead = await s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: { job: "skewed", kind: "success", at: Date.now() + 4 * MIN } });
    expect(ahead.status).toBe(200);
    const late = await checkin({ kind: "success", at: new Date(Date.now() + 6 * MIN).toISOString() });
    expect(late.status).toBe(422);
    expect((await errorOf(late)).message).toBe("at: is more than 5 minutes in the future");
  });

  test("a spooled result delivered late, inside the retention, is taken at its own time", async () => {
    await s.api("/api/v1/jobs", { method: "POST", token: alice.token, json: { name: "spooled", schedule: "@every 1h" } });
    const startedAt = Date.now() - 3 * DAY;
    const r = await s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: { job: "spooled", kind: "success", run_id: crypto.randomUUID(), started_at: startedAt, at: startedAt + 2000, duration_ms: 2000 } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { received_at: string }).received_at).toBe(new Date(startedAt + 2000).toISOString());
  });
});

describe("the one rule for client-given times (readClientTimes)", () => {
  const now = Date.UTC(2026, 10, 24, 12);
  const refuse = (kind: "start" | "success", input: Parameters<typeof readClientTimes>[1], retention = 90) => {
    try {
      readClientTimes(kind, input, now, retention);
    } catch (e) {
      return (e as Error).message;
    }
    return "taken";
  };

  test("each impossible time is refused with a message naming its field", () => {
    expect(refuse("success", { at: now - 91 * DAY })).toBe("at: is older than the tenant's retention of 90 days");
    expect(refuse("success", { at: now - 91 * DAY }, 365)).toBe("taken");
    expect(refuse("success", { started_at: now + 6 * MIN })).toBe("started_at: is more than 5 minutes in the future");
    expect(refuse("success", { started_at: now - 1000, at: now - 2000 })).toBe("started_at: is after at");
    expect(refuse("success", { started_at: now - 32 * DAY })).toBe("started_at: is more than 31 days before the finish");
    expect(refuse("success", { started_at: now - 10_000, at: now, duration_ms: 60_000 })).toBe("duration_ms: is longer than the time from started_at to the finish");
    expect(refuse("success", { started_at: now, duration_ms: 10 * MIN })).toBe("duration_ms: is more than 5 minutes in the future");
    expect(refuse("success", { duration_ms: 31 * DAY + 1 })).toBe("duration_ms: must be at most 31 days (2678400000 ms)");
    expect(refuse("success", { duration_ms: 31 * DAY })).toBe("taken");
    expect(refuse("start", { duration_ms: 5 })).toBe("duration_ms: a start has no duration; send it with the finish");
    expect(refuse("start", { started_at: now - 1000, at: now })).toMatch(/^started_at: /);
    expect(refuse("success", { at: "Dec 3" })).toBe("at: expected an ISO 8601 time or milliseconds since the epoch");
    expect(refuse("success", { at: String(now) })).toBe("taken");
  });

  test("a finish with started_at and duration_ms but no at is placed at their sum; a start at started_at", () => {
    expect(readClientTimes("success", { started_at: now - 5000, duration_ms: 3000 }, now, 90)).toEqual({ at: now - 2000, startedAt: now - 5000, durationMs: 3000 });
    expect(readClientTimes("start", { started_at: now - 5000 }, now, 90)).toEqual({ at: now - 5000, startedAt: now - 5000, durationMs: null });
  });
});

describe("a database written before the rule", () => {
  test("renders its impossible times without failing, and migration 0006 repairs them so the job can go late again", async () => {
    const db = openDb(join(tempDir(), "crontopus.db"));
    migrate(db, MIGRATIONS.filter((m) => m.version < 6));
    const user = await createUser(db, { email: "alice@example.com", password: "correct horse battery" });
    const acme = createTenant(db, { slug: "acme" }, user.id).id;
    const now = Date.now();
    const id = putJob(db, acme, "default", "backup", { schedule: "@every 1h" }, now).job.id;
    const writer = new CheckinWriter(db);
    const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => now });
    writer.onCommit = (rows) => engine.applyCommitted(rows);
    const event = (e: Partial<CheckinEvent>): CheckinEvent => ({
      tenant_id: acme, job_id: id, last_checkin_id: null, kind: "success", exit_code: 0, rid: null,
      received_at: now, started_at: null, duration_ms: null, body: null, truncated: false, source: "api", ...e,
    });
    // What today's code stored for {"started_at": 1000, "duration_ms": 9e15} and {"kind":"start","started_at":-1e17}.
    const stored = [
      writer.append(event({ kind: "start", exit_code: null, received_at: -100000000000000000, started_at: -100000000000000000 })),
      writer.append(event({ kind: "fail", exit_code: 1, duration_ms: 9000000000000000 })),
      writer.append(event({ received_at: 9000000000001000, started_at: 1000, duration_ms: 9000000000000000 })),
    ];
    writer.flush();
    await Promise.all(stored);
    engine.tick(now + 1, true);
    const row = () => db.query<{ expected_at: number | null; next_deadline: number | null; last_ping_at: number | null; last_duration_ms: number | null; status: string }, [string]>(
      "SELECT expected_at, next_deadline, last_ping_at, last_duration_ms, status FROM jobs WHERE id = ?").get(id)!;
    expect(row().status).toBe("up");
    expect(row().expected_at).toBeGreaterThan(8.64e15);

    // Reads render what is there, clamped to what a Date holds, instead of failing.
    const runs = listRuns(db, acme, { jobId: id, all: true }).runs;
    expect(runs).toHaveLength(3);
    expect(runs.map((r) => r.finished_at ?? r.started_at)).toContain("+275760-09-13T00:00:00.000Z");
    expect(listRuns(db, acme, {}).runs.length).toBeGreaterThan(0);
    expect(() => jobJson(getJob(db, acme, "default", "backup"), "http://localhost", now)).not.toThrow();

    migrate(db);
    const latest = Date.now() + 5 * MIN;
    const checkins = db.query<{ received_at: number; started_at: number | null; duration_ms: number | null }, [string]>(
      "SELECT received_at, started_at, duration_ms FROM checkins WHERE job_id = ? ORDER BY id").all(id);
    for (const c of checkins) {
      expect(c.received_at).toBeGreaterThanOrEqual(0);
      expect(c.received_at).toBeLessThanOrEqual(latest);
      expect(c.duration_ms).toBeNull();
      if (c.started_at !== null) expect(c.started_at).toBeLessThanOrEqual(c.received_at);
    }
    expect(checkins[1]!.received_at).toBe(now); // a sane time stays as it was
    expect(row().last_duration_ms).toBeNull();
    expect(row().last_ping_at).toBeLessThanOrEqual(latest);

    // The job is due at once; the engine expects it from now on and it goes late when the hour passes.
    const fresh = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => Date.now() });
    const t = Date.now();
    fresh.tick(t, true);
    expect(row().expected_at).toBeGreaterThan(t);
    expect(row().expected_at).toBeLessThanOrEqual(t + 60 * MIN);
    fresh.tick(row().expected_at! + 1, true);
    expect(row().status).toBe("late");
    db.close();
  });
});
