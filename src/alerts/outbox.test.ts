// The outbox against a real receiver and a database file: delivered once, retried on a fixed
// schedule, given up after 10 attempts, and nothing lost or repeated across a restart.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate, openDb, type Db } from "../db";
import { createLogger } from "../log";
import { createTenant } from "../tenants/tenants";
import { createChannel, deleteChannel, type Channel, type ChannelDeps } from "./channels";
import { openSecretBox, type SecretBox } from "../secrets";
import type { AlertMessage } from "./message";
import { backoffMs, Dispatcher, enqueueNotification, getNotification, listDeliveries, MAX_ATTEMPTS, sendTest, withoutConfigValues } from "./outbox";

const T0 = Date.UTC(2026, 10, 3, 2, 20);
const SEC = 1000;

/** A receiver that fails the first `failFirst` requests of each path, and may answer slowly. */
function startReceiver() {
  const hits = new Map<string, string[]>();
  const behaviour = { failFirst: new Map<string, number>(), delayMs: 0 };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const list = hits.get(path) ?? [];
      list.push(await req.text());
      hits.set(path, list);
      if (behaviour.delayMs) await Bun.sleep(behaviour.delayMs);
      if (list.length <= (behaviour.failFirst.get(path) ?? 0)) return new Response(`down for maintenance (${list.length})`, { status: 503 });
      return new Response("thanks");
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, hits: (path: string) => hits.get(path) ?? [], behaviour, stop: () => server.stop(true) };
}

let dir: string;
let dbPath: string;
let db: Db;
let tenantId: string;
let clock: number;
let receiver: ReturnType<typeof startReceiver>;
let seq = 0;

const silent = createLogger("silent");
// The receiver is on loopback: this outbox serves an installation that allows internal targets.
let secrets: SecretBox;
let deps: ChannelDeps;
const dispatcher = (d = db) => new Dispatcher({ db: d, config: { smtpUrl: null, smtpFrom: "crontopus@localhost", allowPrivateTargets: true }, secrets, log: silent, now: () => clock });

beforeAll(() => {
  receiver = startReceiver();
});
afterAll(() => receiver.stop());

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "crontopus-outbox-"));
  dbPath = join(dir, "crontopus.db");
  db = openDb(dbPath);
  migrate(db);
  secrets = openSecretBox(join(dir, "secret.key"));
  deps = { secrets, allowPrivateTargets: true };
  tenantId = createTenant(db, { slug: "acme", name: "Acme Inc" }, null, T0).id;
  clock = T0;
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function webhook(path: string): Channel {
  return createChannel(db, deps, tenantId, { name: `hook-${++seq}`, type: "webhook", config: { url: receiver.url + path } }, clock);
}

const message: AlertMessage = {
  event: "trigger",
  tenant: { slug: "acme", name: "Acme Inc" },
  job: { id: "job-1", namespace: "ops", name: "db-backup", url: "http://crontopus.test/jobs/ops/db-backup" },
  status: "down",
  previous_status: "up",
  reason: "no check-in since 02:10 UTC (grace 10m)",
  since: new Date(T0).toISOString(),
  last_output: null,
  dedup_key: "crontopus-job-1",
};

function enqueue(channel: Channel, dedupKey = `flip:${++seq}:${channel.id}`) {
  return enqueueNotification(db, { tenantId, channelId: channel.id, jobId: null, flipId: null, event: "trigger", dedupKey, message }, clock);
}

describe("delivery", () => {
  test("a 2xx delivery is sent exactly once, even when runOnce runs again and after a restart", async () => {
    const ch = webhook("/once");
    const id = enqueue(ch)!;
    expect(await dispatcher().runOnce()).toBe(1);
    expect(receiver.hits("/once")).toHaveLength(1);
    expect(JSON.parse(receiver.hits("/once")[0]!)).toMatchObject({ event: "trigger", dedup_key: "crontopus-job-1" });
    expect(getNotification(db, id)).toMatchObject({ status: "sent", attempts: 1, response_code: 200, response_body: "thanks", last_error: null, sent_at: T0 });

    clock += 24 * 3600 * SEC;
    expect(await dispatcher().runOnce()).toBe(0);

    // A new process on the same file finds nothing left to send.
    db.close();
    db = openDb(dbPath);
    expect(await dispatcher(db).runOnce()).toBe(0);
    expect(receiver.hits("/once")).toHaveLength(1);
  });

  test("a pending row left by a stopped process is delivered when a new dispatcher starts", async () => {
    const ch = webhook("/resume");
    const id = enqueue(ch)!;
    db.close();
    db = openDb(dbPath);
    clock = Date.now();
    const d = new Dispatcher({ db, config: { smtpUrl: null, smtpFrom: "x@y", allowPrivateTargets: true }, secrets, log: silent, now: Date.now }, { pollMs: 50 });
    d.start();
    for (let i = 0; i < 100 && getNotification(db, id)!.status !== "sent"; i++) await Bun.sleep(20);
    await d.stop();
    expect(getNotification(db, id)!.status).toBe("sent");
    expect(receiver.hits("/resume")).toHaveLength(1);
  });

  test("kick() delivers a row queued after start without waiting for the poll", async () => {
    const ch = webhook("/kick");
    const d = new Dispatcher({ db, config: { smtpUrl: null, smtpFrom: "x@y", allowPrivateTargets: true }, secrets, log: silent, now: Date.now }, { pollMs: 60_000 });
    d.start();
    await Bun.sleep(50);
    clock = Date.now();
    const id = enqueue(ch)!;
    d.kick();
    for (let i = 0; i < 100 && getNotification(db, id)!.status !== "sent"; i++) await Bun.sleep(20);
    await d.stop();
    expect(receiver.hits("/kick")).toHaveLength(1);
  });

  test("rows in flight are never sent twice, however often runOnce is called meanwhile", async () => {
    const ch = webhook("/slow");
    const ids = [enqueue(ch)!, enqueue(ch)!, enqueue(ch)!];
    receiver.behaviour.delayMs = 200;
    try {
      const d = dispatcher();
      const first = d.runOnce();
      // Another dispatcher on the same database sees the rows claimed.
      expect(await dispatcher().runOnce()).toBe(0);
      // Even past the claim's lapse, this dispatcher knows the rows are still in flight.
      clock += 2 * 3600 * SEC;
      expect(await d.runOnce()).toBe(0);
      expect(await first).toBe(3);
    } finally {
      receiver.behaviour.delayMs = 0;
    }
    expect(receiver.hits("/slow")).toHaveLength(3);
    for (const id of ids) expect(getNotification(db, id)!.status).toBe("sent");
  });

  test("sends to several channels at once, each row on its own", async () => {
    const a = webhook("/a");
    const b = webhook("/b");
    receiver.behaviour.failFirst.set("/b", 1);
    enqueue(a);
    enqueue(b);
    expect(await dispatcher().runOnce()).toBe(2);
    expect(listDeliveries(db, tenantId, a.id)[0]).toMatchObject({ status: "sent", attempts: 1, response_code: 200 });
    expect(listDeliveries(db, tenantId, b.id)[0]).toMatchObject({ status: "pending", attempts: 1, response_code: 503, last_error: "HTTP 503: down for maintenance (1)" });
  });
});

describe("retries", () => {
  test("backoff doubles from 30 s and is capped at 1 h", () => {
    expect(Array.from({ length: 10 }, (_, i) => backoffMs(i + 1) / SEC)).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
  });

  test("a failing receiver is retried on the backoff schedule and delivered once when it recovers", async () => {
    const ch = webhook("/flaky");
    receiver.behaviour.failFirst.set("/flaky", 3);
    const id = enqueue(ch)!;
    const d = dispatcher();

    expect(await d.runOnce()).toBe(1);
    expect(getNotification(db, id)).toMatchObject({ status: "pending", attempts: 1, response_code: 503, next_attempt_at: T0 + 30 * SEC });
    clock = T0 + 29 * SEC;
    expect(await d.runOnce()).toBe(0);
    clock = T0 + 30 * SEC;
    expect(await d.runOnce()).toBe(1);
    expect(getNotification(db, id)).toMatchObject({ attempts: 2, next_attempt_at: clock + 60 * SEC });
    clock += 60 * SEC;
    expect(await d.runOnce()).toBe(1);
    expect(getNotification(db, id)).toMatchObject({ attempts: 3, next_attempt_at: clock + 120 * SEC, last_error: "HTTP 503: down for maintenance (3)" });
    clock += 120 * SEC;
    expect(await d.runOnce()).toBe(1);
    expect(getNotification(db, id)).toMatchObject({ status: "sent", attempts: 4, response_code: 200, last_error: null, sent_at: clock });

    clock += 3600 * SEC;
    expect(await d.runOnce()).toBe(0);
    expect(receiver.hits("/flaky")).toHaveLength(4);
  });

  test("after 10 failed attempts the row is failed and never tried again", async () => {
    const ch = webhook("/broken");
    receiver.behaviour.failFirst.set("/broken", Infinity);
    const id = enqueue(ch)!;
    const d = dispatcher();
    const waits: number[] = [];
    for (let i = 1; i <= MAX_ATTEMPTS; i++) {
      expect(await d.runOnce()).toBe(1);
      const row = getNotification(db, id)!;
      expect(row.attempts).toBe(i);
      if (row.status === "pending") {
        waits.push((row.next_attempt_at - clock) / SEC);
        clock = row.next_attempt_at;
      }
    }
    expect(waits).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    expect(getNotification(db, id)).toMatchObject({ status: "failed", attempts: 10, response_code: 503 });
    clock += 7 * 24 * 3600 * SEC;
    expect(await d.runOnce()).toBe(0);
    expect(receiver.hits("/broken")).toHaveLength(10);
  });

  test("a row whose send was cut off by a crash is retried once its claim lapses", async () => {
    const ch = webhook("/crash");
    const id = enqueue(ch)!;
    // What a crash mid-send leaves behind: the row claimed, nothing recorded.
    db.query("UPDATE notifications SET next_attempt_at = ? WHERE id = ?").run(T0 + 70 * SEC, id);
    expect(await dispatcher().runOnce()).toBe(0);
    clock = T0 + 70 * SEC;
    expect(await dispatcher().runOnce()).toBe(1);
    expect(getNotification(db, id)!.status).toBe("sent");
  });
});

describe("enqueue", () => {
  test("the same dedup key queued twice is one row", () => {
    const ch = webhook("/dedup");
    const first = enqueue(ch, "flip:42:x");
    expect(first).toBeNumber();
    expect(enqueue(ch, "flip:42:x")).toBeNull();
    expect(db.query("SELECT count(*) AS n FROM notifications WHERE dedup_key = 'flip:42:x'").get()).toEqual({ n: 1 });
  });

  test("deleting a channel drops its queued rows", async () => {
    const ch = webhook("/gone");
    const id = enqueue(ch)!;
    deleteChannel(db, tenantId, ch.id);
    expect(getNotification(db, id)).toBeNull();
    expect(await dispatcher().runOnce()).toBe(0);
  });
});

describe("sendTest", () => {
  test("sends a test message now and records it as sent", async () => {
    const ch = webhook("/test-ok");
    expect(await sendTest(db, secrets, tenantId, ch.id, { smtpUrl: null, smtpFrom: "x@y", allowPrivateTargets: true }, clock)).toEqual({ ok: true, code: 200, body: "thanks" });
    const sent = JSON.parse(receiver.hits("/test-ok")[0]!);
    expect(sent).toMatchObject({ event: "test", job: null, tenant: { slug: "acme", name: "Acme Inc" } });
    expect(listDeliveries(db, tenantId, ch.id)).toEqual([
      expect.objectContaining({ event: "test", status: "sent", attempts: 1, response_code: 200, sent_at: new Date(T0).toISOString() }),
    ]);
    // Nothing is left for the dispatcher.
    clock += 3600 * SEC;
    expect(await dispatcher().runOnce()).toBe(0);
    expect(receiver.hits("/test-ok")).toHaveLength(1);
  });

  test("a failed test is recorded as failed and not retried", async () => {
    const ch = webhook("/test-fail");
    receiver.behaviour.failFirst.set("/test-fail", Infinity);
    expect(await sendTest(db, secrets, tenantId, ch.id, { smtpUrl: null, smtpFrom: "x@y", allowPrivateTargets: true }, clock)).toMatchObject({ ok: false, code: 503 });
    expect(listDeliveries(db, tenantId, ch.id)[0]).toMatchObject({ event: "test", status: "failed", attempts: 1, last_error: "HTTP 503: down for maintenance (1)" });
    clock += 24 * 3600 * SEC;
    expect(await dispatcher().runOnce()).toBe(0);
    expect(receiver.hits("/test-fail")).toHaveLength(1);
  });

  test("a running dispatcher does not pick up a test while it is being sent", async () => {
    const ch = webhook("/test-slow");
    receiver.behaviour.delayMs = 150;
    try {
      const d = dispatcher();
      const pending = sendTest(db, secrets, tenantId, ch.id, { smtpUrl: null, smtpFrom: "x@y", allowPrivateTargets: true }, clock);
      expect(await d.runOnce()).toBe(0);
      expect((await pending).ok).toBe(true);
    } finally {
      receiver.behaviour.delayMs = 0;
    }
    expect(receiver.hits("/test-slow")).toHaveLength(1);
  });
});

describe("what the log says of a failed send", () => {
  test("an answer that echoes the channel's URL, token or key is logged without them", () => {
    const config = { url: "https://hooks.example.com/services/T0/B0/xoxsecretpath?sig=abcdef123", token: "tk_secret_1234", headers: { "X-Api-Key": "key-987654" } };
    const echoed = `HTTP 500: {"url":"${config.url}","path":"/services/T0/B0/xoxsecretpath","auth":"Bearer tk_secret_1234","x-api-key":"key-987654","sig":"abcdef123"}`;
    const logged = withoutConfigValues(echoed, config);
    for (const secret of ["xoxsecretpath", "tk_secret_1234", "key-987654", "abcdef123"]) expect(logged).not.toContain(secret);
    expect(logged).toStartWith('HTTP 500: {"url":"[redacted]"');
    expect(withoutConfigValues("connect ECONNREFUSED 127.0.0.1:9", config)).toBe("connect ECONNREFUSED 127.0.0.1:9");
  });
});
