// Logging in and out and switching tenants, at the service: alice belongs to acme and globex, bob to
// acme only; charlie owns initech, which alice does not belong to.
import { beforeAll, describe, expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { BadRequest, NotFound, TooManyRequests, Unauthorized } from "../errors";
import { createTenant } from "../tenants/tenants";
import { addMember } from "../tenants/members";
import { authenticateToken, createApiToken } from "./apitokens";
import { createUser } from "./identity";
import { login, LoginThrottle, logout, switchTenant, type LoginDeps } from "./login";
import { createSessions } from "./sessions";
import type { Principal } from "./principal";
import { rejected } from "../../test/thrown";

const PASSWORD = "correct horse battery";
const NOW = Date.UTC(2026, 10, 20, 12);
const ADDRESS = "192.0.2.10";

const db = openDb(":memory:");
migrate(db);
const sessions = createSessions(db, { secure: false });
const deps = (throttle = new LoginThrottle()): LoginDeps => ({ db, sessions, loginThrottle: throttle });
let acmeId = "";
let aliceToken = "";

beforeAll(async () => {
  const alice = await createUser(db, { email: "alice@example.com", password: PASSWORD, name: "Alice" });
  await createUser(db, { email: "bob@example.com", password: PASSWORD, name: "Bob" });
  const charlie = await createUser(db, { email: "charlie@example.com", password: PASSWORD, name: "Charlie" });
  acmeId = createTenant(db, { slug: "acme" }, alice.id, NOW).id;
  createTenant(db, { slug: "globex" }, alice.id, NOW);
  createTenant(db, { slug: "initech" }, charlie.id, NOW);
  await addMember(db, acmeId, "owner", { email: "bob@example.com", role: "member" }, NOW);
  aliceToken = createApiToken(db, acmeId, alice.id, { name: "laptop" }, null, NOW).token;
});

async function sessionOf(sessionId: string): Promise<Principal | null> {
  return (await sessions.validate(sessionId)).principal;
}

const attempt = (d: LoginDeps, email: string, password: string, address = ADDRESS, now = NOW) => login(d, { email, password, address }, now);

describe("login", () => {
  test("starts a session in the first of the user's tenants and lists them all", async () => {
    const r = await attempt(deps(), "alice@example.com", PASSWORD);
    expect(r.user.email).toBe("alice@example.com");
    expect(r.tenants.map((t) => [t.slug, t.role])).toEqual([
      ["acme", "owner"],
      ["globex", "owner"],
    ]);
    expect(r.cookie).toContain(`crontopus_session=${r.sessionId}`);
    const p = await sessionOf(r.sessionId);
    expect(p).toMatchObject({ kind: "session", email: "alice@example.com", tenantSlug: "acme", role: "owner" });
  });

  test("finds the account however the e-mail address is written", async () => {
    const r = await attempt(deps(), "  Bob@Example.COM ", PASSWORD);
    expect(r.user.email).toBe("bob@example.com");
  });

  test("refuses a wrong password and an unknown e-mail with the same words", async () => {
    const wrong = await rejected(Unauthorized, attempt(deps(), "bob@example.com", "not-the-password"));
    const unknown = await rejected(Unauthorized, attempt(deps(), "nobody@example.com", PASSWORD));
    expect(wrong.message).toBe("invalid email or password");
    expect(unknown.message).toBe("invalid email or password");
  });

  test("refuses an account from an address after too many failures, even with the right password, until the window passes", async () => {
    const d = deps(new LoginThrottle({ perAccount: 2, perAddress: 100 }));
    await expect(attempt(d, "bob@example.com", "guess-1")).rejects.toBeInstanceOf(Unauthorized);
    await expect(attempt(d, "bob@example.com", "guess-2")).rejects.toBeInstanceOf(Unauthorized);
    const limited = await rejected(TooManyRequests, attempt(d, "BOB@example.com", PASSWORD));
    expect(limited.message).toBe("too many login attempts; try again later");
    // Another address is not held up by these failures.
    expect((await attempt(d, "bob@example.com", PASSWORD, "198.51.100.7")).user.email).toBe("bob@example.com");
    // Five minutes on, the account may try again.
    expect((await attempt(d, "bob@example.com", PASSWORD, ADDRESS, NOW + 5 * 60_000)).user.email).toBe("bob@example.com");
  });

  test("a successful login clears the account's failures", async () => {
    const d = deps(new LoginThrottle({ perAccount: 2, perAddress: 100 }));
    await expect(attempt(d, "bob@example.com", "guess-1")).rejects.toBeInstanceOf(Unauthorized);
    await attempt(d, "bob@example.com", PASSWORD);
    await expect(attempt(d, "bob@example.com", "guess-2")).rejects.toBeInstanceOf(Unauthorized);
    expect((await attempt(d, "bob@example.com", PASSWORD)).user.email).toBe("bob@example.com");
  });

  test("refuses an address that tries too many accounts", async () => {
    const d = deps(new LoginThrottle({ perAccount: 100, perAddress: 2 }));
    await expect(attempt(d, "nobody@example.com", PASSWORD)).rejects.toBeInstanceOf(Unauthorized);
    await expect(attempt(d, "bob@example.com", "guess")).rejects.toBeInstanceOf(Unauthorized);
    await expect(attempt(d, "alice@example.com", PASSWORD)).rejects.toBeInstanceOf(TooManyRequests);
  });
});

describe("switching tenants", () => {
  test("moves alice's session to another of her tenants", async () => {
    const { sessionId } = await attempt(deps(), "alice@example.com", PASSWORD);
    const moved = await switchTenant(deps(), (await sessionOf(sessionId))!, "globex");
    expect(moved).toMatchObject({ kind: "session", tenantSlug: "globex", role: "owner", sessionId });
    expect((await sessionOf(sessionId))!.tenantSlug).toBe("globex");
  });

  test("refuses a tenant the user is not in, and the session stays where it was", async () => {
    const { sessionId } = await attempt(deps(), "alice@example.com", PASSWORD);
    const err = await rejected(NotFound, switchTenant(deps(), (await sessionOf(sessionId))!, "initech"));
    expect(err.message).toBe("tenant not found");
    expect((await sessionOf(sessionId))!.tenantSlug).toBe("acme");
  });

  test("refuses an API token: it is bound to its tenant", async () => {
    const token = authenticateToken(db, aliceToken, NOW)!;
    const err = await rejected(BadRequest, switchTenant(deps(), token, "globex"));
    expect(err.message).toBe("an API token is bound to one tenant; only a session can switch");
    expect(authenticateToken(db, aliceToken, NOW)!.tenantSlug).toBe("acme");
  });
});

describe("logout", () => {
  test("ends a session and answers the cookie that clears it", async () => {
    const { sessionId } = await attempt(deps(), "bob@example.com", PASSWORD);
    const { cookie } = await logout(deps(), (await sessionOf(sessionId))!);
    expect(cookie).toMatch(/^crontopus_session=;/);
    expect(await sessionOf(sessionId)).toBeNull();
  });

  test("revokes the token it is called with, and no other", async () => {
    const bob = db.query<{ id: string }, []>("SELECT id FROM users WHERE email = 'bob@example.com'").get()!.id;
    const first = createApiToken(db, acmeId, bob, { name: "first" }, null, NOW).token;
    const second = createApiToken(db, acmeId, bob, { name: "second" }, null, NOW).token;
    expect(await logout(deps(), authenticateToken(db, first, NOW)!)).toEqual({ cookie: null });
    expect(authenticateToken(db, first, NOW)).toBeNull();
    expect(authenticateToken(db, second, NOW)).not.toBeNull();
  });
});
