// Creating and listing tenants for a caller, at the service. alice owns acme and globex; her tokens are
// minted in acme.
import { beforeAll, describe, expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { Forbidden } from "../errors";
import { authenticateToken, createApiToken } from "../auth/apitokens";
import { createUser } from "../auth/identity";
import { createSessions } from "../auth/sessions";
import type { Principal, Scope } from "../auth/principal";
import { findMembership } from "./members";
import { createTenant, createTenantFor, findTenant, listTenantsFor } from "./tenants";

const NOW = Date.UTC(2026, 10, 20, 12);
const db = openDb(":memory:");
migrate(db);
let aliceId = "";
let acmeId = "";
let session: Principal;

beforeAll(async () => {
  aliceId = (await createUser(db, { email: "alice@example.com", password: "correct horse battery" })).id;
  acmeId = createTenant(db, { slug: "acme" }, aliceId, NOW).id;
  createTenant(db, { slug: "globex" }, aliceId, NOW);
  const sessions = createSessions(db, { secure: false });
  session = (await sessions.validate((await sessions.create(aliceId, acmeId)).sessionId)).principal!;
});

function tokenCaller(scopes: Scope[]): Principal {
  const { token } = createApiToken(db, acmeId, aliceId, { name: scopes.join("+"), scopes }, null, NOW);
  return authenticateToken(db, token, NOW)!;
}

describe("listing tenants", () => {
  test("a session sees all of its user's tenants", () => {
    expect(listTenantsFor(db, session).map((t) => t.slug)).toEqual(["acme", "globex"]);
  });

  test("a token sees only the tenant it was minted in", () => {
    expect(listTenantsFor(db, tokenCaller(["read"])).map((t) => t.slug)).toEqual(["acme"]);
  });
});

describe("creating a tenant", () => {
  test("makes the caller its owner", () => {
    const t = createTenantFor(db, session, { slug: "initech", name: "Initech" }, NOW);
    expect(t).toMatchObject({ slug: "initech", name: "Initech", role: "owner", created_at: NOW });
    expect(findMembership(db, t.id, aliceId)).toBe("owner");
  });

  test("takes a token with the admin scope", () => {
    expect(() => createTenantFor(db, tokenCaller(["read", "write"]), { slug: "hooli" }, NOW)).toThrow(new Forbidden("this token lacks the 'admin' scope"));
    expect(findTenant(db, "hooli")).toBeNull();
    expect(createTenantFor(db, tokenCaller(["read", "admin"]), { slug: "hooli" }, NOW).role).toBe("owner");
  });
});
