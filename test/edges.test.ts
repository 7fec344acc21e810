// Safe at the edges, through a live server: alice (owner of acme) cannot aim a channel at the
// server's own network, a lockout holds whatever spelling of her e-mail is tried, a copy of the
// database gives away no session and no channel secret, and every answer carries the security
// headers. Traffic goes to loopback only.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { createChannel } from "../src/alerts/channels";
import { findTenant } from "../src/tenants/tenants";
import { migrate, openDb } from "../src/db";
import { MIGRATIONS } from "../src/migrations";
import { PASSWORD, persona, startTestServer, tempDir, type Persona, type TestServer } from "./helpers";
import { RECEIVER_ENV, startReceiver } from "./receiver";

let s: TestServer;
let alice: Persona;
let acmeId: string;

beforeAll(async () => {
  // Internal targets are NOT allowed on this server: the default. Its data directory is new.
  s = await startTestServer({ CRONTOPUS_DATA_DIR: join(tempDir(), "data") });
  alice = await persona(s.db, "alice", "acme", "owner");
  acmeId = findTenant(s.db, "acme")!.id;
});
afterAll(async () => {
  await s.close();
  rmSync(dirname(s.dataDir), { recursive: true, force: true });
});

const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;
const login = (email: string, password: string) => s.api("/api/v1/auth/login", { method: "POST", json: { email, password } });

describe("alice cannot aim a channel at the server's own network", () => {
  test("a webhook to the server's own API is refused when created, naming the field", async () => {
    for (const host of ["127.0.0.1", "2130706433", "0177.0.0.1", "[::ffff:127.0.0.1]", "localhost", "169.254.169.254", "10.0.0.8"]) {
      const r = await s.api("/api/v1/channels", {
        method: "POST",
        token: alice.token,
        json: { name: "own-api", type: "webhook", config: { url: `http://${host}:${s.port}/api/v1/tenants` } },
      });
      expect(`${host} ${r.status}`).toBe(`${host} 422`);
      expect((await errorOf(r)).message).toStartWith("config.url: may not point inside this server's network");
    }
  });

  test("a name is accepted without being looked up", async () => {
    const r = await s.api("/api/v1/channels", {
      method: "POST",
      token: alice.token,
      json: { name: "hooks", type: "webhook", config: { url: "https://hooks.example.invalid/T0/abc" } },
    });
    expect(r.status).toBe(201);
  });

  test("a channel saved while internal targets were allowed is not sent, and no answer of the target comes back", async () => {
    // As if created when CRONTOPUS_ALLOW_PRIVATE_TARGETS was on, then turned off.
    const legacy = createChannel(s.db, { secrets: s.ctx.secrets, allowPrivateTargets: true }, acmeId, {
      name: "legacy",
      type: "webhook",
      config: { url: `http://127.0.0.1:${s.port}/api/v1/tenants` },
    }, Date.now());
    const r = await s.api(`/api/v1/channels/${legacy.id}/test`, { method: "POST", token: alice.token });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { ok: boolean; code?: number; error: string };
    expect(body.ok).toBe(false);
    expect(body.code).toBeUndefined();
    expect(body.error).toStartWith("refused: 127.0.0.1 is a loopback address");
    expect(JSON.stringify(body)).not.toContain("acme");
  });
});

describe("login", () => {
  test("the lockout of alice@example.com holds for every spelling of it", async () => {
    for (let i = 0; i < 10; i++) expect((await login("alice@example.com", `wrong-${i}`)).status).toBe(401);
    for (const spelling of [" alice@example.com", "ALICE@example.com", "alice@example.com\t", " Alice@Example.COM "]) {
      const r = await login(spelling, PASSWORD);
      expect(`${JSON.stringify(spelling)} ${r.status}`).toBe(`${JSON.stringify(spelling)} 429`);
    }
  });

  test("bob signs in with his address trimmed and in any case", async () => {
    await persona(s.db, "bob", "acme", "member");
    expect((await login("  BOB@example.com ", PASSWORD)).status).toBe(200);
  });
});

describe("a copy of the database", () => {
  test("holds only the hash of a session cookie: the row id is no cookie", async () => {
    await persona(s.db, "carol", "acme", "member");
    const r = await login("carol@example.com", PASSWORD);
    expect(r.status).toBe(200);
    const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
    const value = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1));
    const rows = s.db.query<{ id: string }, []>("SELECT id FROM sessions").all().map((x) => x.id);
    expect(rows).toContain(createHash("sha256").update(value).digest("hex"));
    expect(rows).not.toContain(value);
    // The cookie works; a row id presented as a cookie does not.
    expect((await s.api("/api/v1/me", { headers: { cookie } })).status).toBe(200);
    for (const id of rows) expect((await s.api("/api/v1/me", { headers: { cookie: `crontopus_session=${id}` } })).status).toBe(401);
    expect((await s.api("/api/v1/auth/logout", { method: "POST", headers: { cookie } })).status).toBe(200);
    expect(s.db.query("SELECT id FROM sessions WHERE id = ?").get(createHash("sha256").update(value).digest("hex"))).toBeNull();
  });

  test("holds no channel secret", async () => {
    const secrets = ["wh-s3cret-9f2", "hdr-token-71c", "url-token-5d0", "T0B0slackpath77", "pd-routing-key-42", "ntfy-tk-88e"];
    for (const json of [
      { name: "signed", type: "webhook", config: { url: "https://hooks.example.invalid/h?token=url-token-5d0", secret: "wh-s3cret-9f2", headers: { Authorization: "Bearer hdr-token-71c" } } },
      { name: "chat", type: "slack", config: { url: "https://hooks.slack.com/services/T0B0slackpath77" } },
      { name: "pager", type: "pagerduty", config: { routing_key: "pd-routing-key-42" } },
      { name: "push", type: "ntfy", config: { url: "https://ntfy.sh/ops", token: "ntfy-tk-88e" } },
    ]) {
      expect((await s.api("/api/v1/channels", { method: "POST", token: alice.token, json })).status).toBe(201);
    }
    s.db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    const dbPath = join(s.dataDir, "crontopus.db");
    const bytes = [dbPath, `${dbPath}-wal`].filter(existsSync).map((f) => readFileSync(f).toString("latin1")).join("");
    for (const secret of secrets) expect(`${secret} found: ${bytes.includes(secret)}`).toBe(`${secret} found: false`);
  });

  test("is readable by the server's user only: the directory 0700, the files 0600", async () => {
    // The key file is made when the first secret is stored.
    const json = { name: "for-the-key", type: "webhook", config: { url: "https://hooks.example.invalid/k", secret: "k" } };
    expect((await s.api("/api/v1/channels", { method: "POST", token: alice.token, json })).status).toBe(201);
    const dbPath = join(s.dataDir, "crontopus.db");
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(mode(s.dataDir)).toBe("700");
    for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, join(s.dataDir, "secret.key")]) expect(`${f}: ${mode(f)}`).toBe(`${f}: 600`);
  });
});

describe("a database written before secrets were encrypted", () => {
  test("has its channel configs encrypted at start, and still delivers with them", async () => {
    const dir = tempDir();
    const receiver = startReceiver();
    try {
      // The schema and the rows as today's code writes them: the config in plaintext.
      const old = openDb(join(dir, "crontopus.db"));
      migrate(old, MIGRATIONS.filter((m) => m.version <= 4));
      await persona(old, "dave", "initech", "owner");
      const tenant = findTenant(old, "initech")!.id;
      const config = { url: `${receiver.url}/hook`, secret: "old-plain-secret" };
      old.query("INSERT INTO channels (id, tenant_id, name, type, config, created_at, updated_at) VALUES ('ch-1', ?, 'hook', 'webhook', ?, 0, 0)").run(tenant, JSON.stringify(config));
      old.query("INSERT INTO sessions (id, user_id, expires_at) SELECT 'plain-cookie', id, 9999999999 FROM users").run();
      old.close();
      // Today's modes: a shared-readable directory and database.
      chmodSync(dir, 0o755);
      chmodSync(join(dir, "crontopus.db"), 0o644);

      const srv = await startTestServer({ ...RECEIVER_ENV, CRONTOPUS_DATA_DIR: dir });
      try {
        const row = srv.db.query<{ config: string; sealed: string }, []>("SELECT config, sealed FROM channels").get()!;
        expect(row.sealed).toStartWith("enc:v1:");
        expect(row.config + row.sealed).not.toContain("old-plain-secret");
        expect(JSON.parse(row.config)).toEqual({ url: `${receiver.url}/hook`, secret: "********" });
        expect((statSync(dir).mode & 0o777).toString(8)).toBe("700");
        expect((statSync(join(dir, "crontopus.db")).mode & 0o777).toString(8)).toBe("600");
        // The old session rows held cookie values: they are gone.
        expect((await srv.api("/api/v1/me", { headers: { cookie: "crontopus_session=plain-cookie" } })).status).toBe(401);
        expect(srv.db.query("SELECT count(*) AS n FROM sessions").get()).toEqual({ n: 0 });

        const dave = srv.db.query<{ id: string }, []>("SELECT id FROM users").get()!;
        const { createApiToken } = await import("../src/auth/apitokens");
        const { token } = createApiToken(srv.db, tenant, dave.id, { name: "t" });
        expect(await (await srv.api("/api/v1/channels/ch-1/test", { method: "POST", token })).json()).toEqual({ ok: true, code: 200 });
        const got = receiver.received.at(-1)!;
        expect(got.headers.get("x-crontopus-signature")).toBe("sha256=" + new Bun.CryptoHasher("sha256", "old-plain-secret").update(got.body).digest("hex"));
      } finally {
        await srv.close();
      }
      // A second start finds nothing left to encrypt and leaves the row as it was.
      const before = new Database(join(dir, "crontopus.db")).query<{ sealed: string }, []>("SELECT sealed FROM channels").get()!.sealed;
      const again = await startTestServer({ ...RECEIVER_ENV, CRONTOPUS_DATA_DIR: dir });
      expect(again.db.query<{ sealed: string }, []>("SELECT sealed FROM channels").get()!.sealed).toBe(before);
      await again.close();
    } finally {
      receiver.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("every answer carries the security headers", () => {
  const expectSecurityHeaders = (label: string, r: Response) => {
    const got = ["x-content-type-options", "referrer-policy", "x-frame-options"].map((h) => `${h}: ${r.headers.get(h)}`);
    expect([label, ...got]).toEqual([label, "x-content-type-options: nosniff", "referrer-policy: no-referrer", "x-frame-options: DENY"]);
    // A route may have a policy of its own (the SVG badge), but never one that allows framing.
    expect(`${label}: ${r.headers.get("content-security-policy")}`).toContain("frame-ancestors 'none'");
  };

  test("pings, badges, metrics, health, docs, files and errors", async () => {
    const job = (await (await s.api("/api/v1/jobs", { method: "POST", token: alice.token, json: { name: "backup", schedule: "@daily" } })).json()) as { ping_url: string };
    const badgeKey = s.db.query<{ badge_key: string }, [string]>("SELECT badge_key FROM tenants WHERE id = ?").get(acmeId)!.badge_key;
    const cases: [string, string, RequestInit & { token?: string; json?: unknown }, number][] = [
      ["ping", new URL(job.ping_url).pathname, {}, 200],
      ["ping, unknown token", "/ping/no-such-token", {}, 404],
      ["badge", `/badge/${badgeKey}/default/backup.svg`, {}, 200],
      ["metrics, anonymous", "/metrics", {}, 401],
      ["health", "/health", {}, 200],
      ["docs", "/api/docs", {}, 200],
      ["openapi", "/api/openapi.json", {}, 200],
      ["unknown route", "/api/v1/nope", { token: alice.token }, 404],
      ["validation error", "/api/v1/channels", { method: "POST", token: alice.token, json: { name: 5 } }, 422],
      ["a file", "/public/vendor/swagger-ui.css", {}, 200],
      ["unauthenticated", "/api/v1/jobs", {}, 401],
    ];
    for (const [label, path, init, status] of cases) {
      const r = await s.api(path, init);
      expect(`${label} ${r.status}`).toBe(`${label} ${status}`);
      expectSecurityHeaders(label, r);
      await r.arrayBuffer();
    }
  });

  test("answers that carry secrets are not stored by any cache", async () => {
    const token = await s.api("/api/v1/tokens", { method: "POST", token: alice.token, json: { name: "ci" } });
    const settings = await s.api("/api/v1/tenants/current", { token: alice.token });
    const rotated = await s.api("/api/v1/tenants/current/rotate-key", { method: "POST", token: alice.token, json: { key: "badge_key" } });
    const enrollment = await s.api("/api/v1/enrollment-tokens", { method: "POST", token: alice.token, json: { name: "hosts" } });
    for (const [label, r] of [["token", token], ["settings", settings], ["rotate", rotated], ["enrollment", enrollment]] as const) {
      expect(`${label} ${r.status < 300} ${r.headers.get("cache-control")}`).toBe(`${label} true no-store`);
      expectSecurityHeaders(label, r);
    }
    expect(await settings.text()).toContain("ping_key");
  });
});
