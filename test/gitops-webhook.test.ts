// The push webhook through a live server and a real bare repository: alice's acme connects the
// repository, pastes webhook_url and webhook_secret into her forge, and each push she makes is
// synced at once, for each forge. Mallory, who knows the URL but not the secret, syncs nothing.
// The sync a delivery triggers is seen where alice sees it: GET /api/v1/gitops/status and /syncs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { FORGES, headersFor, PUSH, SIGNATURE_HEADER } from "./forges";
import { manifest, TestRepo } from "./gitops-repo";
import { persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";
import { until } from "./receiver";

const dataDir = tempDir();
let srv: TestServer;
let alice: Persona;
let repo: TestRepo;
let webhookUrl: string;
let secret: string;
const SERVER_ENV = { CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true", CRONTOPUS_DATA_DIR: dataDir };

interface SyncRow {
  commit: string | null;
  trigger: string;
  state: string;
}

beforeAll(async () => {
  srv = await startTestServer(SERVER_ENV);
  alice = await persona(srv.db, "alice", "acme", "owner");
  repo = new TestRepo();
  repo.commit("first job", { "production/backup.yaml": manifest("backup") });
  // An hour between periodic syncs: every sync after the first is one a test asked for.
  const put = await call("/api/v1/gitops", { method: "PUT", json: { url: repo.url, interval: "1h" } });
  expect(put.status).toBe(200);
  ({ webhook_url: webhookUrl, webhook_secret: secret } = put.body);
  // The first periodic sync, so that every later one is a test's own.
  await until(async () => (await call("/api/v1/gitops/status")).body.state === "ok", 30_000);
});
afterAll(async () => {
  await srv.close();
  repo.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function call(path: string, init: { method?: string; json?: unknown } = {}) {
  const res = await srv.api(path, { ...init, token: alice.token });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** Sends a delivery as the forge would, to `url` (the tenant's webhook_url by default, on today's server). */
async function deliver(forge: (typeof FORGES)[number], event: string, payload: object, delivery: string, opts: { secret?: string | null; url?: string } = {}) {
  const body = JSON.stringify(payload);
  const headers = headersFor(forge, event, body, delivery, opts.secret ?? secret);
  if (opts.secret === null) delete headers[SIGNATURE_HEADER[forge]];
  // Gitea's copy of Forgejo's signature must not be what lets a Forgejo delivery in.
  if (opts.secret === null && forge === "forgejo") delete headers["x-gitea-signature"];
  const url = opts.url ?? `${srv.url}${new URL(webhookUrl).pathname}`;
  const res = await fetch(url, { method: "POST", headers, body });
  return { status: res.status, body: (await res.json()) as any };
}

const syncs = async (): Promise<SyncRow[]> => (await call("/api/v1/gitops/syncs?limit=500")).body.syncs;

/** The sync of `commit` by `trigger`, once the history has it (a webhook's runs in the background). */
const syncedBy = (commit: string, trigger: string) => until(async () => (await syncs()).find((s) => s.commit === commit && s.trigger === trigger), 30_000, 50);

/**
 * Proof that nothing synced `commit` in the background: a manual sync now finds the head unsynced
 * and makes its own history row. Had a delivery started a sync, the manual one would have waited
 * for it (one sync at a time per tenant) and found the head synced already.
 */
async function expectNotSyncedBy(commit: string, trigger: string) {
  const r = await call("/api/v1/gitops/sync", { method: "POST" });
  expect(r.body.commit).toBe(commit);
  const rows = (await syncs()).filter((s) => s.commit === commit);
  expect(rows.map((s) => s.trigger)).toEqual(["manual"]);
  expect(rows.some((s) => s.trigger === trigger)).toBe(false);
}

const pushTo = (forge: (typeof FORGES)[number], branch: string) => PUSH[forge](`refs/heads/${branch}`);

describe("the push webhook", () => {
  for (const forge of FORGES) {
    describe(forge, () => {
      const delivery = `${forge}-8f14e45f-ceea-467f-a8ad-0f0a5c1e2d3b`;

      test("a signed push answers 202 at once and syncs in the background: the job and the status follow the commit", async () => {
        const commit = repo.commit(`add ${forge}-report`, { [`staging/${forge}-report.yaml`]: manifest(`${forge}-report`) });
        // The payload names alice/jobs on the forge; the remote is a file:// path: the URL alone names the tenant.
        const r = await deliver(forge, "push", pushTo(forge, "main"), delivery);
        expect(r.status).toBe(202);
        expect(r.body).toEqual({ result: "syncing", reason: "a sync of main has started", forge, delivery });
        const row = await syncedBy(commit, "webhook");
        expect(row.state).toBe("ok");
        const status = (await call("/api/v1/gitops/status")).body;
        expect(status).toMatchObject({ state: "ok", commit, last_good_commit: commit });
        expect((await call(`/api/v1/jobs/staging/${forge}-report`)).body.source.commit).toBe(commit);
      });

      test("a push signed with another secret is 401 and syncs nothing", async () => {
        const commit = repo.commit(`mallory's ${forge} change`, { [`staging/${forge}-mallory.yaml`]: manifest(`${forge}-mallory`) });
        const r = await deliver(forge, "push", pushTo(forge, "main"), `${delivery}-bad`, { secret: "mallory-guess" });
        expect(r.status).toBe(401);
        expect(r.body.error.code).toBe("unauthorized");
        expect(r.body.error.message).toBe(forge === "gitlab" ? "wrong X-Gitlab-Token" : "bad signature");
        await expectNotSyncedBy(commit, "webhook");
      });

      test("a push without its signature is 401, saying it is missing, and syncs nothing", async () => {
        const commit = repo.commit(`unsigned ${forge} change`, { [`staging/${forge}-unsigned.yaml`]: manifest(`${forge}-unsigned`) });
        const r = await deliver(forge, "push", pushTo(forge, "main"), `${delivery}-unsigned`, { secret: null });
        expect(r.status).toBe(401);
        expect(r.body.error.message).toMatch(/^missing/);
        await expectNotSyncedBy(commit, "webhook");
      });

      test("a repeated delivery (the forge's Redeliver) answers 202 and does not sync twice", async () => {
        const again = `${delivery}-again`;
        const first = repo.commit(`${forge}: first of two`, { [`staging/${forge}-twice.yaml`]: manifest(`${forge}-twice`) });
        expect((await deliver(forge, "push", pushTo(forge, "main"), again)).body.result).toBe("syncing");
        await syncedBy(first, "webhook");
        const commit = repo.commit(`${forge}: after the first delivery`, { [`staging/${forge}-twice.yaml`]: manifest(`${forge}-twice`, "@weekly") });
        const r = await deliver(forge, "push", pushTo(forge, "main"), again);
        expect(r.status).toBe(202);
        expect(r.body).toEqual({ result: "ignored", reason: `delivery ${again} was received before: not synced again`, forge, delivery: again });
        await expectNotSyncedBy(commit, "webhook");
      });
    });
  }

  test("the same delivery id from another forge is another delivery", async () => {
    const commit = repo.commit("gitea, then forgejo", { "staging/twin.yaml": manifest("twin") });
    const id = "delivery-42";
    expect((await deliver("gitea", "push", pushTo("gitea", "main"), id)).body.result).toBe("syncing");
    await syncedBy(commit, "webhook");
    const next = repo.commit("forgejo's turn", { "staging/twin.yaml": manifest("twin", "@weekly") });
    expect((await deliver("forgejo", "push", pushTo("forgejo", "main"), id)).body.result).toBe("syncing");
    expect((await syncedBy(next, "webhook")).state).toBe("ok");
  });

  test("a ping is answered 200 and syncs nothing; a ping with a bad signature is 401", async () => {
    const ping = { zen: "Keep it logically awesome.", hook_id: 30, hook: { type: "Repository", events: ["push"] } };
    const r = await deliver("github", "ping", ping, "ping-1");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ result: "pong", reason: "ping received: pushes to main will sync", forge: "github", delivery: "ping-1" });
    expect((await deliver("github", "ping", ping, "ping-2", { secret: "nope" })).status).toBe(401);
  });

  test("a push to another branch answers 202 with the reason and syncs nothing", async () => {
    const commit = repo.commit("on main, not announced", { "staging/quiet.yaml": manifest("quiet") });
    const r = await deliver("github", "push", pushTo("github", "feature/new-report"), "other-branch-1");
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ result: "ignored", reason: "a push to feature/new-report, not to main: nothing to sync" });
    const tag = await deliver("gitlab", "Tag Push Hook", { ref: "refs/tags/v1.0.0" }, "tag-1");
    expect(tag).toMatchObject({ status: 202, body: { result: "ignored" } });
    await expectNotSyncedBy(commit, "webhook");
  });

  test("an unknown webhook id is 404 in the error shape, signed or not", async () => {
    const r = await deliver("github", "push", pushTo("github", "main"), "unknown-1", { url: `${srv.url}/api/v1/gitops/webhook/no-such-hook` });
    expect(r.status).toBe(404);
    expect(r.body.error).toEqual({ code: "not_found", message: "webhook not found" });
  });

  test("a body over 1 MiB is 413 in the error shape, with or without Content-Length", async () => {
    const big = JSON.stringify({ ref: "refs/heads/main", padding: "x".repeat(1024 * 1024) });
    const url = `${srv.url}${new URL(webhookUrl).pathname}`;
    const headers = headersFor("github", "push", big, "big-1", secret);
    const r = await fetch(url, { method: "POST", headers, body: big });
    expect(r.status).toBe(413);
    expect(((await r.json()) as any).error).toEqual({ code: "payload_too_large", message: "body: must be at most 1048576 bytes" });
    // Chunked: no Content-Length, read up to the limit and then refused.
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const chunked = await fetch(url, { method: "POST", headers, body: stream });
    expect(chunked.status).toBe(413);
  });

  test("a delivery seen before is still a repeat after a restart", async () => {
    const commit = repo.commit("before the restart", { "staging/restart.yaml": manifest("restart") });
    expect((await deliver("github", "push", pushTo("github", "main"), "restart-1")).body.result).toBe("syncing");
    await syncedBy(commit, "webhook");
    await srv.stop();
    srv = await startTestServer(SERVER_ENV);
    const next = repo.commit("after the restart", { "staging/restart.yaml": manifest("restart", "@weekly") });
    const r = await deliver("github", "push", pushTo("github", "main"), "restart-1");
    expect(r.body).toMatchObject({ result: "ignored", reason: "delivery restart-1 was received before: not synced again" });
    await expectNotSyncedBy(next, "webhook");
  });
});

describe("the webhook's rate limit", () => {
  test("more than 120 deliveries a minute from one address to one webhook are 429 with Retry-After", async () => {
    // Bob's tenant, so alice's webhook keeps its budget.
    const bob = await persona(srv.db, "bob", "bobs-co", "owner");
    const put = await srv.api("/api/v1/gitops", { method: "PUT", token: bob.token, json: { url: repo.url, interval: "1h" } });
    const { webhook_url } = (await put.json()) as { webhook_url: string };
    const url = `${srv.url}${new URL(webhook_url).pathname}`;
    const body = JSON.stringify({ zen: "hi" });
    const statuses: number[] = [];
    for (let i = 0; i < 121; i++) {
      const r = await fetch(url, { method: "POST", headers: headersFor("github", "ping", body, `rl-${i}`, "wrong"), body });
      statuses.push(r.status);
      if (r.status === 429) {
        expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(((await r.json()) as any).error.code).toBe("rate_limited");
      } else await r.body?.cancel();
    }
    expect(statuses.slice(0, 120).every((s) => s === 401)).toBe(true);
    expect(statuses[120]).toBe(429);
  }, 60_000);
});
