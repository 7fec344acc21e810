// Logging in and out, and switching the tenant a session acts in: the rules of every surface that signs people in
// (the API's /auth routes, the console's login form).
import type { Db } from "../db";
import { BadRequest, Invalid, NotFound, Unauthorized } from "../errors";
import { RateLimiter } from "../ratelimit";
import { listUserTenants, type TenantMembership } from "../tenants/members";
import { revokeApiToken } from "./apitokens";
import { normalizeEmail, setUserPassword, verifyLogin, type User } from "./identity";
import type { Principal } from "./principal";
import type { Sessions } from "./sessions";

const TOO_MANY_LOGINS = "too many login attempts; try again later";
const LOGIN_WINDOW_MS = 5 * 60_000;

/**
 * Login attempts per address and e-mail, then per address alone: argon2 makes every attempt cost ~0.2 s
 * of CPU. One per process, shared by every surface, so that no surface is a way around the other's limit.
 */
export class LoginThrottle {
  readonly perAccount: RateLimiter;
  readonly perAddress: RateLimiter;

  constructor(limits = { perAccount: 10, perAddress: 50 }) {
    this.perAccount = new RateLimiter(limits.perAccount, LOGIN_WINDOW_MS, TOO_MANY_LOGINS);
    this.perAddress = new RateLimiter(limits.perAddress, LOGIN_WINDOW_MS, TOO_MANY_LOGINS);
  }
}

/** What logging in needs (an AppContext has it all). */
export interface LoginDeps {
  db: Db;
  sessions: Sessions;
  loginThrottle: LoginThrottle;
}

export interface LoggedIn {
  user: User;
  /** The user's tenants; the session acts in the first one. */
  tenants: TenantMembership[];
  sessionId: string;
  /** The session cookie to set (Set-Cookie value). */
  cookie: string;
}

/**
 * Checks an e-mail and password sent from `address` and starts a session in the user's first tenant.
 * Unknown e-mail and wrong password fail alike (Unauthorized); too many attempts, TooManyRequests.
 */
export async function login(deps: LoginDeps, input: { email: string; password: string; address: string }, now: number): Promise<LoggedIn> {
  // One account, one key: " Alice@X.test" is alice@x.test, for the lookup and the limit alike.
  const email = normalizeEmail(input.email);
  const account = `${input.address}|${email}`;
  deps.loginThrottle.perAddress.hit(input.address, now);
  deps.loginThrottle.perAccount.hit(account, now);
  const user = await verifyLogin(deps.db, email, input.password);
  deps.loginThrottle.perAccount.reset(account);
  const tenants = listUserTenants(deps.db, user.id);
  const session = await deps.sessions.create(user.id, tenants[0]?.tenant_id ?? null);
  return { user, tenants, ...session };
}

/**
 * Ends what the caller authenticated with: a session is invalidated, a token revoked.
 * Returns the cookie that clears a session (null for a token).
 */
export async function logout(deps: LoginDeps, caller: Principal): Promise<{ cookie: string | null }> {
  if (caller.kind === "token") {
    revokeApiToken(deps.db, caller.tenantId!, caller.userId, caller.tokenId!);
    return { cookie: null };
  }
  return { cookie: await deps.sessions.invalidate(caller.sessionId!) };
}

/** Makes another of the user's tenants the one their session acts in; returns the caller, in that tenant. */
export async function switchTenant(deps: LoginDeps, caller: Principal, slug: string): Promise<Principal> {
  // An API token is minted for one tenant; acting elsewhere takes a token of that tenant.
  if (caller.kind !== "session" || !caller.sessionId) throw new BadRequest("an API token is bound to one tenant; only a session can switch");
  const membership = listUserTenants(deps.db, caller.userId).find((m) => m.slug === slug);
  if (!membership) throw new NotFound("tenant");
  deps.sessions.setTenant(caller.sessionId, caller.userId, membership.tenant_id);
  const { principal } = await deps.sessions.validate(caller.sessionId);
  if (!principal) throw new Unauthorized();
  return principal;
}

/**
 * Changes the caller's password, given their current one, and ends their other sessions (whoever
 * knew the old password is signed out). Attempts count against the same limit as logins.
 */
export async function changePassword(deps: LoginDeps, caller: Principal, input: { current: string; password: string }, now: number): Promise<void> {
  if (caller.kind !== "session" || !caller.sessionId) throw new BadRequest("only a signed-in session can change its password");
  const account = `password|${caller.userId}`;
  deps.loginThrottle.perAccount.hit(account, now);
  try {
    await verifyLogin(deps.db, caller.email, input.current);
  } catch (e) {
    if (e instanceof Unauthorized) throw new Invalid("current", "is not your password");
    throw e;
  }
  deps.loginThrottle.perAccount.reset(account);
  await setUserPassword(deps.db, caller.userId, input.password);
  deps.sessions.invalidateOthers(caller.userId, caller.sessionId);
}
