// Creating and listing tenants for a caller, at the service. alice owns acme and globex; her tokens are
// minted in acme.
import { describe, expect, test } from "bun:test";
import { Forbidden } from "../errors";
import type { Scope } from "../auth/principal";
import { ownerOf, sessionCaller, tokenCaller } from "../../test/helpers";
import { findMembership } from "./members";
import { createTenantFor, findTenant, listTenantsFor } from "./tenants";

const NOW = Date.UTC(2026, 10, 20, 12);

/** A database of its own for each test: creating tenants in one must not show in another's list. */
async function setup() {
  const { db, userId: alice, tenants } = await ownerOf("alice", ["acme", "globex"], NOW);
  const session = await sessionCaller(db, alice, tenants.acme!);
  const token = (scopes: Scope[]) => tokenCaller(db, alice, tenants.acme!, scopes, NOW);
  return { db, alice, session, token };
}

describe("listing tenants", () => {
  test("a session sees all of its user's tenants", async () => {
    const { db, session } = await setup();
    expect(listTenantsFor(db, session).map((t) => t.slug)).toEqual(["acme", "globex"]);
  });

  test("a token sees only the tenant it was minted in", async () => {
    const { db, token } = await setup();
    expect(listTenantsFor(db, token(["read"])).map((t) => t.slug)).toEqual(["acme"]);
  });
});

describe("creating a tenant", () => {
  test("makes the caller its owner", async () => {
    const { db, alice, session } = await setup();
    const t = createTenantFor(db, session, { slug: "initech", name: "Initech" }, NOW);
    expect(t).toMatchObject({ slug: "initech", name: "Initech", role: "owner", created_at: NOW });
    expect(findMembership(db, t.id, alice)).toBe("owner");
  });

  test("takes a token with the admin scope", async () => {
    const { db, token } = await setup();
    expect(() => createTenantFor(db, token(["read", "write"]), { slug: "hooli" }, NOW)).toThrow(new Forbidden("this token lacks the 'admin' scope"));
    expect(findTenant(db, "hooli")).toBeNull();
    expect(createTenantFor(db, token(["read", "admin"]), { slug: "hooli" }, NOW).role).toBe("owner");
  });
});
