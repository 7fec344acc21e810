// Who may mint and revoke API tokens, at the service. alice owns acme; a session acts with her role,
// her tokens only with the scopes they were given.
import { describe, expect, test } from "bun:test";
import { Forbidden } from "../errors";
import { ownerOf, sessionCaller, tokenCaller } from "../../test/helpers";
import { thrown } from "../../test/thrown";
import { createApiTokenFor, listApiTokens, revokeApiTokenFor } from "./apitokens";
import type { Scope } from "./principal";

const NOW = Date.UTC(2026, 10, 20, 12);
const { db, userId: alice, tenants } = await ownerOf("alice", ["acme"], NOW);
const session = await sessionCaller(db, alice, tenants.acme!);
const token = (scopes: Scope[]) => tokenCaller(db, alice, tenants.acme!, scopes, NOW);
const aliceTokens = () => listApiTokens(db, tenants.acme!, alice).map((t) => t.id);

describe("minting a token", () => {
  test("a session mints within its role: an owner's token gets every scope", () => {
    expect(createApiTokenFor(db, session, { name: "ci" }, NOW).api_token.scopes).toEqual(["read", "write", "admin"]);
  });

  test("a token needs the admin scope to mint one", () => {
    expect(thrown(Forbidden, () => createApiTokenFor(db, token(["read", "write"]), { name: "more", scopes: ["read"] }, NOW)).message).toBe("this token lacks the 'admin' scope");
  });

  test("an admin token mints within its own scopes, never beyond them", () => {
    const caller = token(["read", "admin"]);
    expect(createApiTokenFor(db, caller, { name: "narrow" }, NOW).api_token.scopes).toEqual(["read", "admin"]);
    expect(thrown(Forbidden, () => createApiTokenFor(db, caller, { name: "wider", scopes: ["write"] }, NOW)).message).toBe("cannot grant scope write");
  });
});

describe("revoking a token", () => {
  test("a token without the admin scope revokes itself, not another", () => {
    const other = token(["read"]);
    const caller = token(["read"]);
    expect(thrown(Forbidden, () => revokeApiTokenFor(db, caller, other.tokenId!)).message).toBe("this token lacks the 'admin' scope");
    revokeApiTokenFor(db, caller, caller.tokenId!);
    expect(aliceTokens()).toContain(other.tokenId!);
    expect(aliceTokens()).not.toContain(caller.tokenId!);
  });

  test("an admin token and a session revoke any of the user's tokens", () => {
    const [a, b] = [token(["read"]), token(["read"])];
    revokeApiTokenFor(db, token(["read", "admin"]), a.tokenId!);
    revokeApiTokenFor(db, session, b.tokenId!);
    expect(aliceTokens()).not.toContain(a.tokenId!);
    expect(aliceTokens()).not.toContain(b.tokenId!);
  });
});
