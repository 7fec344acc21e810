// The event hub over a real database, with the real writer, engine and JobStates and no server:
// alice's tenant is pinged while a stream is open (or not). The tests flush the window by hand
// and move the clock themselves.
import { describe, expect, test } from "bun:test";
import { putJob, getJob } from "../jobs/jobs";
import { jobJson, jobStatusJson } from "../jobs/json";
import { CheckinWriter, type CheckinEvent } from "../checkins/writer";
import { Engine } from "../monitor/engine";
import { createLogger } from "../log";
import { ownerOf } from "../../test/helpers";
import { eventFeed } from "./feed";
import { createEnrollmentToken, enroll } from "../agents/enrollment";
import { heartbeat } from "../agents/liveness";
import { eventHub, LINGER_MS, MAX_JOBS, MAX_QUEUED_BYTES, MAX_RUNS, MAX_WINDOW_BYTES, RING_SIZE, type EventHub } from "./hub";

interface Message {
  id: string | null;
  event: string;
  data: any;
}

async function setup() {
  let now = Date.UTC(2026, 11, 1, 12);
  const { db, tenants } = await ownerOf("alice", ["acme", "globex"], now);
  const engine = new Engine({ db, log: createLogger("silent"), baseUrl: "http://localhost", now: () => now });
  const writer = new CheckinWriter(db);
  writer.onCommit = (rows) => engine.applyCommitted(rows);
  const hub = eventHub(db);
  hub.configure(eventFeed(db), () => now);
  const job = (name: string, tenant = tenants.acme!) => putJob(db, tenant, "default", name, { schedule: "@every 1h" }, now).job;
  async function ping(j: { id: string; tenant_id: string }, n = 1, kind: CheckinEvent["kind"] = "success") {
    const all: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      all.push(writer.append({ tenant_id: j.tenant_id, job_id: j.id, last_checkin_id: null, kind, exit_code: kind === "success" ? 0 : null, rid: null, received_at: now, started_at: null, duration_ms: null, body: null, truncated: false, source: "test" }));
    }
    writer.flush();
    await Promise.all(all);
  }
  return { db, tenants, hub, job, ping, advance: (ms: number) => (now += ms), now: () => now };
}

/** A stream's reader that hands back the messages already sent, without waiting for more. */
function reader(stream: ReadableStream<Uint8Array>) {
  const r = stream.getReader();
  const decoder = new TextDecoder();
  let lastId: string | null = null;
  // A read still waiting when take() gave up gets the next chunk: keep it for the next take().
  let pending: ReturnType<typeof r.read> | null = null;
  let bytes = 0;
  return {
    get lastId() {
      return lastId;
    },
    /** Bytes read so far. */
    get bytes() {
      return bytes;
    },
    async take(): Promise<Message[]> {
      let text = "";
      for (;;) {
        pending ??= r.read();
        const chunk = await Promise.race([pending, Bun.sleep(5).then(() => null)]);
        if (!chunk) break;
        pending = null;
        if (chunk.done) break;
        bytes += chunk.value.byteLength;
        text += decoder.decode(chunk.value, { stream: true });
      }
      const out: Message[] = [];
      for (const block of text.split("\n\n")) {
        let event = "";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("id: ")) lastId = line.slice(4);
          else if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data = line.slice(6);
        }
        if (event) out.push({ id: lastId, event, data: JSON.parse(data) });
      }
      return out;
    },
    cancel: () => r.cancel(),
  };
}

const listen = (hub: EventHub, tenantId: string, lastEventId: string | null = null) => reader(hub.subscribe(tenantId, lastEventId, () => true));

describe("publishing", () => {
  test("keeps nothing for a tenant nobody listens to, and forgets a tenant LINGER_MS after its last listener left", async () => {
    const { hub, job, ping, tenants, advance } = await setup();
    const backup = job("backup");
    expect(hub.live).toBe(false);
    await ping(backup, 3);
    expect(hub.stats()).toMatchObject({ channels: 0, events: 0 });

    const stream = listen(hub, tenants.acme!);
    expect(hub.live).toBe(true);
    await stream.cancel();
    // Still kept (a reconnect may come), then forgotten.
    advance(LINGER_MS - 1);
    await hub.tidy();
    expect(hub.stats().channels).toBe(1);
    advance(1);
    await hub.tidy();
    expect(hub.stats().channels).toBe(0);
    expect(hub.live).toBe(false);
  });

  test("coalesces: a job pinged MAX_RUNS times in a window is one job event with its last state, and each run once", async () => {
    const { hub, job, ping, tenants } = await setup();
    const backup = job("backup");
    const stream = listen(hub, tenants.acme!);
    await stream.take();
    await ping(backup, MAX_RUNS);
    hub.flush();
    const got = await stream.take();
    const jobs = got.filter((m) => m.event === "job");
    expect(jobs.length).toBe(1);
    expect(jobs[0]!.data).toMatchObject({ id: backup.id, status: "up", checkins_total: MAX_RUNS });
    expect(got.filter((m) => m.event === "run").length).toBe(MAX_RUNS);
  });

  test("sends the newest MAX_RUNS runs of a window and counts the others in runs-skipped", async () => {
    const { hub, job, ping, tenants } = await setup();
    const busy = job("busy");
    const stream = listen(hub, tenants.acme!);
    await stream.take();
    await ping(busy, MAX_RUNS + 30);
    hub.flush();
    const got = await stream.take();
    expect(got.find((m) => m.event === "runs-skipped")?.data).toEqual({ count: 30 });
    const runs = got.filter((m) => m.event === "run").map((m) => m.data.id as number);
    expect(runs.length).toBe(MAX_RUNS);
    expect(Math.min(...runs)).toBe(Math.max(...runs) - MAX_RUNS + 1);
  });

  test("sends at most MAX_JOBS job events a window; the others follow in the next, none lost", async () => {
    const { db, hub, job, ping, tenants } = await setup();
    const jobs = db.transaction(() => Array.from({ length: MAX_JOBS + 50 }, (_, i) => job(`j${i}`)))();
    const stream = listen(hub, tenants.acme!);
    for (const j of jobs) await ping(j);
    hub.flush();
    const first = (await stream.take()).filter((m) => m.event === "job");
    hub.flush();
    const second = (await stream.take()).filter((m) => m.event === "job");
    expect(first.length).toBe(MAX_JOBS);
    expect(new Set([...first, ...second].map((m) => m.data.id))).toEqual(new Set(jobs.map((j) => j.id)));
  });

  test("a job whose status changed goes ahead of the jobs whose counters alone moved", async () => {
    const { db, hub, job, ping, tenants } = await setup();
    const jobs = db.transaction(() => Array.from({ length: MAX_JOBS + 50 }, (_, i) => job(`j${i}`)))();
    const stream = listen(hub, tenants.acme!);
    for (const j of jobs) await ping(j);
    hub.flush();
    hub.flush();
    await stream.take();
    // Every job pinged again (up stays up), then the last one fails.
    for (const j of jobs) await ping(j);
    await ping(jobs.at(-1)!, 1, "fail");
    hub.flush();
    const first = (await stream.take()).filter((m) => m.event === "job");
    expect(first.length).toBe(MAX_JOBS);
    expect(first[0]!.data).toMatchObject({ id: jobs.at(-1)!.id, status: "failed" });
  });

  test("sends about MAX_WINDOW_BYTES a window: heavy agent events beyond it wait for the next", async () => {
    const { db, hub, tenants, now } = await setup();
    const labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`label-${i}`, "v".repeat(250)]));
    const { token } = createEnrollmentToken(db, tenants.acme!, null, { name: "fleet", labels }, now());
    const agents = Array.from({ length: 30 }, (_, i) => enroll(db, { token, hostname: `web${i}`, platform: "linux", arch: "x64", scheduler: "crontab", machine_id: `m${i}` }, 30, now()).agent);
    const stream = listen(hub, tenants.acme!);
    await stream.take();
    for (const a of agents) heartbeat(db, a, {}, "http://localhost", now());
    const windows: Message[][] = [];
    for (let i = 0; i < 30 && hub.stats().events < agents.length; i++) {
      hub.flush();
      windows.push(await stream.take());
    }
    const size = (ms: Message[]) => ms.reduce((n, m) => n + JSON.stringify(m.data).length, 0);
    expect(windows.length).toBeGreaterThan(1);
    for (const w of windows) expect(size(w)).toBeLessThan(MAX_WINDOW_BYTES + 20_000);
    expect(new Set(windows.flat().map((m) => m.data.id))).toEqual(new Set(agents.map((a) => a.id)));
  });

  test("a job event has the fields and formats of the job as the API shows it", async () => {
    const { db, hub, job, ping, tenants, now } = await setup();
    const backup = job("backup");
    const stream = listen(hub, tenants.acme!);
    await stream.take();
    await ping(backup, 1, "fail");
    hub.flush();
    const event = (await stream.take()).find((m) => m.event === "job");
    const shown = jobJson(getJob(db, tenants.acme!, "default", "backup"), "http://localhost", now());
    const fields = Object.keys(jobStatusJson(getJob(db, tenants.acme!, "default", "backup")));
    expect(Object.keys(event!.data)).toEqual(fields);
    expect(event!.data).toEqual(Object.fromEntries(fields.map((k) => [k, shown[k as keyof typeof shown]])));
    expect(event!.data).toMatchObject({ status: "failed", consecutive_failures: 1 });
  });

  test("another tenant's channel gets nothing of it", async () => {
    const { hub, job, ping, tenants } = await setup();
    const mine = listen(hub, tenants.acme!);
    const theirs = listen(hub, tenants.globex!);
    await Promise.all([mine.take(), theirs.take()]);
    await ping(job("backup"), 2);
    hub.flush();
    expect((await mine.take()).length).toBeGreaterThan(0);
    expect(await theirs.take()).toEqual([]);
  });
});

describe("resuming", () => {
  test("replays what came after the Last-Event-ID while the ring holds it; an older id, or another boot's, gets a reset", async () => {
    const { hub, job, ping, tenants } = await setup();
    const backup = job("backup");
    const first = listen(hub, tenants.acme!);
    await first.take();
    const start = first.lastId!;
    await ping(backup, 3);
    hub.flush();
    const sent = await first.take();
    const replay = listen(hub, tenants.acme!, start);
    expect((await replay.take()).map((m) => m.id)).toEqual(sent.map((m) => m.id));
    // Past what the ring holds.
    for (let i = 0; i * MAX_RUNS < RING_SIZE + MAX_RUNS; i++) {
      await ping(backup, MAX_RUNS);
      hub.flush();
    }
    expect((await listen(hub, tenants.acme!, start).take()).map((m) => m.event)).toEqual(["reset"]);
    expect((await listen(hub, tenants.acme!, "zzz-1").take()).map((m) => m.event)).toEqual(["reset"]);
  });
});

describe("resuming from a page's position", () => {
  test("a page rendered while the tenant is listened to resumes from its position and hears what changed after it", async () => {
    const { hub, job, ping, tenants } = await setup();
    const backup = job("backup");
    const other = listen(hub, tenants.acme!);
    await other.take();
    const rendered = hub.position();
    await ping(backup, 1, "fail");
    hub.flush();
    const page = listen(hub, tenants.acme!, rendered);
    const got = await page.take();
    expect(got.map((m) => m.event)).toEqual(["job", "run"]);
    expect(got[0]!.data).toMatchObject({ id: backup.id, status: "failed" });
    // Nothing since: a page rendered now resumes to nothing.
    expect(await listen(hub, tenants.acme!, hub.position()).take()).toEqual([]);
  });

  test("an id from before the tenant's channel existed gets a reset: what changed while nobody listened was not kept", async () => {
    const { hub, job, ping, tenants, advance } = await setup();
    const backup = job("backup");
    // A page rendered with nobody listening; a ping before its stream opens.
    const rendered = hub.position();
    await ping(backup);
    const page = listen(hub, tenants.acme!, rendered);
    expect((await page.take()).map((m) => m.event)).toEqual(["reset"]);
    await page.cancel();

    // A listener's last id, its channel forgotten after LINGER_MS, a ping while there was none.
    const phone = listen(hub, tenants.acme!);
    await phone.take();
    const seen = phone.lastId!;
    await phone.cancel();
    advance(LINGER_MS);
    await hub.tidy();
    expect(hub.stats().channels).toBe(0);
    await ping(backup);
    expect((await listen(hub, tenants.acme!, seen).take()).map((m) => m.event)).toEqual(["reset"]);
  });

  test("a greeted stream says ready at once, after what it replays, without moving the client's Last-Event-ID", async () => {
    const { hub, job, ping, tenants } = await setup();
    const backup = job("backup");
    const first = listen(hub, tenants.acme!);
    await first.take();
    const start = first.lastId!;
    await ping(backup);
    hub.flush();
    const sent = await first.take();
    const greeted = reader(hub.subscribe(tenants.acme!, start, () => true, { greet: true }));
    const got = await greeted.take();
    expect(got.map((m) => m.event)).toEqual(["job", "run", "ready"]);
    expect(greeted.lastId).toBe(sent.at(-1)!.id);
    const fresh = reader(hub.subscribe(tenants.acme!, null, () => true, { greet: true }));
    expect((await fresh.take()).map((m) => m.event)).toEqual(["ready"]);
    expect(fresh.lastId).toBe(hub.position());
  });
});

describe("coming back", () => {
  test("the only listener, back within LINGER_MS, hears what changed while it was away; nothing was rendered meanwhile", async () => {
    const { hub, job, ping, tenants, advance } = await setup();
    const backup = job("backup");
    const phone = listen(hub, tenants.acme!);
    await ping(backup);
    hub.flush();
    await phone.take();
    const seen = phone.lastId!;
    await phone.cancel();
    const events = hub.stats().events;
    await ping(backup, 3, "fail");
    hub.flush();
    advance(LINGER_MS - 1);
    await hub.tidy();
    expect(hub.stats().events).toBe(events);

    const back = listen(hub, tenants.acme!, seen);
    hub.flush();
    const got = await back.take();
    expect(got.filter((m) => m.event === "job").map((m) => m.data)).toEqual([expect.objectContaining({ id: backup.id, status: "failed", checkins_total: 4 })]);
    expect(got.filter((m) => m.event === "run").length).toBe(3);
  });
});

describe("a subscriber that reads nothing", () => {
  test("is dropped once MAX_QUEUED_BYTES wait for it; the others keep getting every event", async () => {
    const { hub, job, ping, tenants } = await setup();
    const backup = job("backup");
    hub.subscribe(tenants.acme!, null, () => true); // never read
    const reading = listen(hub, tenants.acme!);
    let received = 0;
    let sent = 0;
    while (hub.stats().dropped === 0 && sent < 100_000) {
      await ping(backup, MAX_RUNS);
      sent += MAX_RUNS;
      hub.flush();
      received += (await reading.take()).filter((m) => m.event === "run").length;
    }
    expect(hub.stats()).toMatchObject({ dropped: 1, subscribers: 1 });
    // What the reader got is what waited for the other one: about MAX_QUEUED_BYTES.
    expect(reading.bytes).toBeGreaterThan(MAX_QUEUED_BYTES);
    expect(reading.bytes).toBeLessThan(MAX_QUEUED_BYTES * 1.2);
    expect(received).toBe(sent);
  });
});
