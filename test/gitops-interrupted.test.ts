// A server killed during a sync: alice's sync is stuck in its fetch (the remote accepts the
// connection and never answers) when the server process gets SIGKILL. The next server says so
// instead of showing `syncing` for ever: the history has the interrupted sync, and the next
// periodic sync runs at once, although the interval is an hour. (The status going back to the last
// finished sync's state, with a message, is src/gitops/sync.test.ts: here the new sync follows at once.)
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import { migrate, openDb } from "../src/db";
import { createUser } from "../src/auth/identity";
import { createTenant } from "../src/tenants/tenants";
import { createApiToken } from "../src/auth/apitokens";
import { manifest, TestRepo } from "./gitops-repo";
import { PASSWORD, spawnServer, tempDir } from "./helpers";
import { until } from "./receiver";

const dataDir = tempDir();
const repo = new TestRepo();
const procs: ReturnType<typeof Bun.spawn>[] = [];
let silent: TCPSocketListener<undefined> | null = null;
const sockets: Socket<undefined>[] = [];
afterAll(() => {
  // A failed expectation must not leave a server, or git and ssh waiting on the silent remote.
  for (const p of procs) p.kill("SIGKILL");
  for (const s of sockets) s.end();
  silent?.stop(true);
  repo.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface SyncRow {
  id: number;
  trigger: string;
  state: string;
  error: string | null;
}

describe("a server killed during a sync", () => {
  test("restarts with the sync in the history as interrupted, a new sync at once, and the status no longer syncing", async () => {
    const db = openDb(join(dataDir, "crontopus.db"));
    migrate(db);
    const user = await createUser(db, { email: "alice@example.com", password: PASSWORD });
    const tenant = createTenant(db, { slug: "acme" }, user.id);
    const { token } = createApiToken(db, tenant.id, user.id, { name: "interrupted-test" });
    db.close();
    repo.commit("first", { "production/backup.yaml": manifest("backup") });

    const env = { CRONTOPUS_ALLOW_PRIVATE_TARGETS: "true" };
    let server = await spawnServer(dataDir, env);
    procs.push(server.proc);
    const api = async (path: string, init: { method?: string; json?: unknown } = {}) => {
      const res = await fetch(server.url + path, {
        method: init.method ?? "GET",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: init.json === undefined ? undefined : JSON.stringify(init.json),
      });
      return (await res.json()) as any;
    };
    const history = async () => (await api("/api/v1/gitops/syncs")).syncs as SyncRow[];

    // Connected, with an hour between syncs: the first periodic sync runs at once, and then not for an hour.
    await api("/api/v1/gitops", { method: "PUT", json: { url: repo.url, interval: "1h" } });
    await until(async () => (await history()).some((s) => s.trigger === "periodic" && s.state === "ok"), 30_000, 50);
    expect((await api("/api/v1/gitops/status")).state).toBe("ok");

    // A remote that takes the connection and never says a word: ssh waits for its greeting.
    silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void sockets.push(s), data() {} } });
    await api("/api/v1/gitops", { method: "PUT", json: { url: `ssh://git@127.0.0.1:${silent.port}/jobs.git`, interval: "1h" } });
    const stuck = api("/api/v1/gitops/sync", { method: "POST" }).catch(() => "the server died");
    await until(() => sockets.length > 0, 30_000);
    expect((await api("/api/v1/gitops/status")).state).toBe("syncing");

    server.proc.kill("SIGKILL");
    await server.proc.exited;
    expect(await stuck).toBe("the server died");
    // The remote goes away: git and ssh of the dead server end, and the next fetch is refused.
    for (const s of sockets) s.end();
    silent.stop(true);
    silent = null;

    server = await spawnServer(dataDir, env);
    procs.push(server.proc);
    // Written at start, before the first request: the history says what happened.
    const interrupted = (await history()).find((s) => s.trigger === "manual");
    expect(interrupted).toMatchObject({ state: "failing" });
    expect(interrupted!.error).toMatch(/^interrupted: the manual sync started at \S+ did not finish \(the server stopped during it\)$/);
    // Due at once, an hour early: a periodic sync after the interrupted one, which finds the remote gone.
    const next = await until(async () => (await history()).find((s) => s.trigger === "periodic" && s.id > interrupted!.id), 30_000, 50);
    expect(next.state).toBe("failing");
    const status = await until(async () => {
      const s = await api("/api/v1/gitops/status");
      return s.state !== "syncing" && s;
    }, 30_000, 50);
    expect(status.state).toBe("failing");
    expect(status.message).toMatch(/^git fetch failed/);
  }, 120_000);
});
