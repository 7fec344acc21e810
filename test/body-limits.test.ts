// How much of a body the server reads, through a live server and a raw socket (so the test
// sees when the answer comes, not only what it says). charlie is nobody: he may not make the
// server read 200 MB to refuse his login.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { persona, startTestServer, type Persona, type TestServer } from "./helpers";

let s: TestServer;
let alice: Persona;

beforeAll(async () => {
  s = await startTestServer({ CRONTOPUS_PING_BODY_LIMIT: "100KB" });
  alice = await persona(s.db, "alice", "acme");
});
afterAll(() => s.close());

/**
 * Sends a request head, then body chunks one by one (as long as no answer came), and returns
 * the answer's head with how many body bytes had been sent when it arrived.
 */
async function rawRequest(head: string, chunks: Iterable<Uint8Array | string>, opts: { pauseMs?: number; waitMs?: number } = {}) {
  let answer = "";
  let closed = false;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: s.port,
    socket: {
      data(_s, d) {
        answer += d.toString();
      },
      close() {
        closed = true;
      },
      error() {
        closed = true;
      },
    },
  });
  const write = async (bytes: Uint8Array | string) => {
    let data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    while (data.length && !closed && !answer) {
      const n = socket.write(data);
      data = data.subarray(Math.max(n, 0));
      if (data.length) await Bun.sleep(1);
    }
  };
  await write(head);
  let sent = 0;
  for (const c of chunks) {
    if (answer || closed) break;
    await write(c);
    sent += c.length;
    if (opts.pauseMs) await Bun.sleep(opts.pauseMs);
  }
  // The client stops here without ending its body: an answer now came before the body did.
  const deadline = Date.now() + (opts.waitMs ?? 10_000);
  while (!answer.includes("\r\n\r\n") && !closed && Date.now() < deadline) await Bun.sleep(10);
  await Bun.sleep(50);
  socket.end();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
  const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
  return { status, body, sent };
}

function* repeat(chunk: Uint8Array | string, times: number) {
  for (let i = 0; i < times; i++) yield chunk;
}

const chunked = (size: number) => `${size.toString(16)}\r\n${"x".repeat(size)}\r\n`;

describe("login and auth bodies: 16 KiB, refused before more is read", () => {
  test("a login announcing 200 MB is answered 413 in the error shape on its Content-Length alone", async () => {
    const head = `POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200000000\r\n\r\n`;
    const r = await rawRequest(head, []);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: { code: "payload_too_large", message: "body: must be at most 16384 bytes" } });
  });

  test("a chunked login body without Content-Length is answered 413 while the client is still sending", async () => {
    const head = `POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    // Up to 8 MB in 4 KiB chunks, never ended: only a server that stops reading answers.
    const r = await rawRequest(head, repeat(chunked(4096), 2048), { pauseMs: 2 });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.code).toBe("payload_too_large");
    expect(r.sent).toBeLessThan(1024 * 1024);
  });

  test("a login of ordinary size is read and judged as before", async () => {
    const r = await s.api("/api/v1/auth/login", { method: "POST", json: { email: "alice@example.com", password: "wrong password" } });
    expect(r.status).toBe(401);
    // Chunked and small: read, then judged.
    const body = new TextEncoder().encode(JSON.stringify({ email: "alice@example.com", password: "correct horse battery" }));
    const stream = new ReadableStream({ start(c) { c.enqueue(body); c.close(); } });
    const ok = await fetch(`${s.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: stream });
    expect(ok.status).toBe(200);
  });
});

describe("API bodies: at most CRONTOPUS_MAX_BODY (1 MiB)", () => {
  test("a job body over 1 MiB is 413, with or without Content-Length", async () => {
    const big = JSON.stringify({ name: "huge", schedule: "@every 1h", command: "x".repeat(2 * 1024 * 1024) });
    const r = await s.api("/api/v1/jobs", { method: "POST", token: alice.token, headers: { "content-type": "application/json" }, body: big });
    expect(r.status).toBe(413);
    expect((await r.json()).error.message).toBe("body: must be at most 1048576 bytes");
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream({ pull(c) { c.enqueue(bytes.subarray(0, 65536)); } });
    const r2 = await fetch(`${s.url}/api/v1/jobs`, { method: "POST", headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" }, body: stream });
    expect(r2.status).toBe(413);
  });

  test("a chunked job body under the limit is read whole and the job is created", async () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ name: "streamed", schedule: "@every 1h" }));
    const stream = new ReadableStream({ start(c) { c.enqueue(bytes.subarray(0, 10)); c.enqueue(bytes.subarray(10)); c.close(); } });
    const r = await fetch(`${s.url}/api/v1/jobs`, { method: "POST", headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" }, body: stream });
    expect(r.status).toBe(201);
  });

  test("a check-in takes output up to the ping body limit (and more is cut, not refused) beyond 1 MiB of JSON escapes", async () => {
    await s.api("/api/v1/jobs", { method: "POST", token: alice.token, json: { name: "noisy", schedule: "@every 1h" } });
    // 150 KB of control characters: 900 KB of JSON as \u0001, over 100 KB of output once read.
    const output = "\u0001".repeat(150_000) + "the end";
    const r = await s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: { job: "noisy", kind: "success", output } });
    expect(r.status).toBe(200);
    const big = await s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: { job: "noisy", kind: "success", output: "y".repeat(1_000_000) } });
    expect(big.status).toBe(200);
    type Runs = { runs: { output: string; output_truncated: boolean }[] };
    let runs: Runs = { runs: [] };
    for (const until = Date.now() + 20_000; runs.runs.length < 2 && Date.now() < until; await Bun.sleep(20)) {
      runs = (await (await s.api("/api/v1/runs?job=default/noisy&output=true", { token: alice.token })).json()) as Runs;
    }
    expect(runs.runs[0]!.output_truncated).toBe(true);
    expect(runs.runs[1]!.output).toEndWith("the end");
    const tooBig = await s.api("/api/v1/checkins", { method: "POST", token: alice.token, json: { job: "noisy", kind: "success", output: "z".repeat(2 * 1024 * 1024) } });
    expect(tooBig.status).toBe(413);
  });
});
