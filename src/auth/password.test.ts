// Changing a password, at the service: alice changes hers from her laptop; her phone's session
// ends, the laptop's goes on; the old password no longer signs in.
import { expect, test } from "bun:test";
import { migrate, openDb } from "../db";
import { BadRequest, Invalid, TooManyRequests, Unauthorized } from "../errors";
import { createTenant } from "../tenants/tenants";
import { authenticateToken, createApiToken } from "./apitokens";
import { createUser, verifyLogin } from "./identity";
import { changePassword, login, LoginThrottle, type LoginDeps } from "./login";
import { createSessions } from "./sessions";
import type { Principal } from "./principal";
import { rejected } from "../../test/thrown";

const PASSWORD = "correct horse battery";
const NEW_PASSWORD = "staple battery horse";
const NOW = Date.UTC(2026, 11, 1, 9);

async function setup() {
  const db = openDb(":memory:");
  migrate(db);
  const sessions = createSessions(db, { secure: false });
  const deps: LoginDeps = { db, sessions, loginThrottle: new LoginThrottle() };
  const user = await createUser(db, { email: "alice@example.com", password: PASSWORD });
  const tenantId = createTenant(db, { slug: "acme" }, user.id, NOW).id;
  const laptop = await login(deps, { email: "alice@example.com", password: PASSWORD, address: "192.0.2.1" }, NOW);
  const phone = await login(deps, { email: "alice@example.com", password: PASSWORD, address: "192.0.2.2" }, NOW);
  const caller = (await sessions.validate(laptop.sessionId)).principal as Principal;
  return { db, sessions, deps, user, tenantId, laptop, phone, caller };
}

test("a new password, given the current one, signs out the user's other sessions", async () => {
  const { db, sessions, deps, laptop, phone, caller } = await setup();
  await changePassword(deps, caller, { current: PASSWORD, password: NEW_PASSWORD }, NOW);
  expect((await sessions.validate(laptop.sessionId)).principal?.email).toBe("alice@example.com");
  expect((await sessions.validate(phone.sessionId)).principal).toBeNull();
  await rejected(Unauthorized, verifyLogin(db, "alice@example.com", PASSWORD));
  expect((await verifyLogin(db, "alice@example.com", NEW_PASSWORD)).email).toBe("alice@example.com");
});

test("a wrong current password is an error on that field, and changes nothing", async () => {
  const { db, sessions, deps, phone, caller } = await setup();
  const e = await rejected(Invalid, changePassword(deps, caller, { current: "not my password", password: NEW_PASSWORD }, NOW));
  expect([e.field, e.details?.[0]?.message]).toEqual(["current", "is not your password"]);
  expect((await sessions.validate(phone.sessionId)).principal).not.toBeNull();
  expect((await verifyLogin(db, "alice@example.com", PASSWORD)).email).toBe("alice@example.com");
});

test("a new password too short is an error on that field", async () => {
  const { deps, caller } = await setup();
  const e = await rejected(Invalid, changePassword(deps, caller, { current: PASSWORD, password: "short" }, NOW));
  expect(e.field).toBe("password");
});

test("guessing the current password is limited like logging in", async () => {
  const { deps, caller } = await setup();
  const throttled: LoginDeps = { ...deps, loginThrottle: new LoginThrottle({ perAccount: 2, perAddress: 50 }) };
  for (let i = 0; i < 2; i++) await rejected(Invalid, changePassword(throttled, caller, { current: `guess ${i}`, password: NEW_PASSWORD }, NOW));
  await rejected(TooManyRequests, changePassword(throttled, caller, { current: PASSWORD, password: NEW_PASSWORD }, NOW));
});

test("an API token cannot change its user's password", async () => {
  const { db, deps, user, tenantId } = await setup();
  const { token } = createApiToken(db, tenantId, user.id, { name: "ci" }, null, NOW);
  const tokenCaller = authenticateToken(db, token, NOW)!;
  await rejected(BadRequest, changePassword(deps, tokenCaller, { current: PASSWORD, password: NEW_PASSWORD }, NOW));
});
