// Who may mint and revoke API tokens, at the service. alice owns acme; a session acts with her role,
// her tokens only with the scopes they were given.
import { beforeAll, describe, expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { Forbidden } from "../errors";
import { createTenant } from "../tenants/tenants";
import { authenticateToken, createApiToken, createApiTokenFor, listApiTokens, revokeApiTokenFor } from "./apitokens";
import { createUser } from "./identity";
import { createSessions } from "./sessions";
import type { Scope, TenantPrincipal } from "./principal";

const NOW = Date.UTC(2026, 10, 20, 12);
const db = openDb(":memory:");
migrate(db);
let aliceId = "";
let acmeId = "";
let session: TenantPrincipal;

beforeAll(async () => {
  aliceId = (await createUser(db, { email: "alice@example.com", password: "correct horse battery" })).id;
  acmeId = createTenant(db, { slug: "acme" }, aliceId, NOW).id;
  const sessions = createSessions(db, { secure: false });
  session = (await sessions.validate((await sessions.create(aliceId, acmeId)).sessionId)).principal as TenantPrincipal;
});

/** alice's principal when she calls with a new token of these scopes. */
function tokenCaller(scopes: Scope[]): TenantPrincipal {
  const { token } = createApiToken(db, acmeId, aliceId, { name: `with ${scopes.join("+")}`, scopes }, null, NOW);
  return authenticateToken(db, token, NOW) as TenantPrincipal;
}

function forbidden(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Forbidden);
    return (e as Error).message;
  }
  throw new Error("expected Forbidden");
}

describe("minting a token", () => {
  test("a session mints within its role: an owner's token gets every scope", () => {
    expect(createApiTokenFor(db, session, { name: "ci" }, NOW).api_token.scopes).toEqual(["read", "write", "admin"]);
  });

  test("a token needs the admin scope to mint one", () => {
    const caller = tokenCaller(["read", "write"]);
    expect(forbidden(() => createApiTokenFor(db, caller, { name: "more", scopes: ["read"] }, NOW))).toBe("this token lacks the 'admin' scope");
  });

  test("an admin token mints within its own scopes, never beyond them", () => {
    const caller = tokenCaller(["read", "admin"]);
    expect(createApiTokenFor(db, caller, { name: "narrow" }, NOW).api_token.scopes).toEqual(["read", "admin"]);
    expect(forbidden(() => createApiTokenFor(db, caller, { name: "wider", scopes: ["write"] }, NOW))).toBe("cannot grant scope write");
  });
});

describe("revoking a token", () => {
  test("a token without the admin scope revokes itself, not another", () => {
    const other = tokenCaller(["read"]);
    const caller = tokenCaller(["read"]);
    expect(forbidden(() => revokeApiTokenFor(db, caller, other.tokenId!))).toBe("this token lacks the 'admin' scope");
    revokeApiTokenFor(db, caller, caller.tokenId!);
    const left = listApiTokens(db, acmeId, aliceId).map((t) => t.id);
    expect(left).toContain(other.tokenId!);
    expect(left).not.toContain(caller.tokenId!);
  });

  test("an admin token and a session revoke any of the user's tokens", () => {
    const a = tokenCaller(["read"]);
    const b = tokenCaller(["read"]);
    revokeApiTokenFor(db, tokenCaller(["read", "admin"]), a.tokenId!);
    revokeApiTokenFor(db, session, b.tokenId!);
    const left = listApiTokens(db, acmeId, aliceId).map((t) => t.id);
    expect(left).not.toContain(a.tokenId!);
    expect(left).not.toContain(b.tokenId!);
  });
});
