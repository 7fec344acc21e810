// Console sessions. Lucia v3 is unmaintained upstream, so it stays behind this one module.
// The database keeps only the SHA-256 of each session's cookie value, as api_tokens does: a
// copy of the database does not let anyone sign in as its users.
import { createHash } from "node:crypto";
import { Lucia, TimeSpan, type Adapter } from "lucia";
import { BunSQLiteAdapter } from "@lucia-auth/adapter-sqlite";
import type { Db } from "../db";
import { getUser } from "./identity";
import { getTenant } from "../tenants/tenants";
import { findMembership } from "../tenants/members";
import { roleScopes, type Principal } from "./principal";

export const SESSION_COOKIE = "crontopus_session";

export interface Sessions {
  cookieName: string;
  /** Creates a session whose active tenant is `tenantId`; returns the Set-Cookie value. */
  create(userId: string, tenantId: string | null): Promise<{ sessionId: string; cookie: string }>;
  /** The principal behind a session id, or null; may refresh the cookie. */
  validate(sessionId: string): Promise<{ principal: Principal | null; cookie: string | null }>;
  invalidate(sessionId: string): Promise<string>;
  /** Stores the session's active tenant (the caller checked the membership: see login.ts switchTenant). */
  setTenant(sessionId: string, userId: string, tenantId: string): void;
  /** Ends every session of the user but `keepSessionId` (after a password change). */
  invalidateOthers(userId: string, keepSessionId: string): void;
}

/** The sessions row id of a cookie value. */
export function sessionRowId(cookieValue: string): string {
  return createHash("sha256").update(cookieValue).digest("hex");
}

/** Lucia's SQLite adapter, storing the hash of every session id it is given. */
function hashingAdapter(inner: Adapter): Adapter {
  return {
    async getSessionAndUser(id) {
      const [session, user] = await inner.getSessionAndUser(sessionRowId(id));
      // Lucia builds the cookie from the id it gets back: give it the cookie value, not the hash.
      return [session ? { ...session, id } : null, user];
    },
    getUserSessions: (userId) => inner.getUserSessions(userId),
    setSession: (session) => inner.setSession({ ...session, id: sessionRowId(session.id) }),
    updateSessionExpiration: (id, expiresAt) => inner.updateSessionExpiration(sessionRowId(id), expiresAt),
    deleteSession: (id) => inner.deleteSession(sessionRowId(id)),
    deleteUserSessions: (userId) => inner.deleteUserSessions(userId),
    deleteExpiredSessions: () => inner.deleteExpiredSessions(),
  };
}

export function createSessions(db: Db, opts: { secure: boolean }): Sessions {
  const lucia = new Lucia(hashingAdapter(new BunSQLiteAdapter(db, { user: "users", session: "sessions" })), {
    sessionExpiresIn: new TimeSpan(30, "d"),
    sessionCookie: { name: SESSION_COOKIE, attributes: { secure: opts.secure, sameSite: "lax" } },
    getSessionAttributes: (a) => ({ tenantId: (a as { tenant_id: string | null }).tenant_id }),
    getUserAttributes: () => ({}),
  });

  function principalFor(userId: string, sessionId: string, tenantId: string | null): Principal {
    const user = getUser(db, userId);
    let role = tenantId ? findMembership(db, tenantId, userId) : null;
    const tenant = role && tenantId ? getTenant(db, tenantId) : null;
    if (!tenant) role = null;
    return {
      kind: "session",
      userId,
      email: user.email,
      name: user.name,
      isOperator: user.is_operator,
      tenantId: tenant?.id ?? null,
      tenantSlug: tenant?.slug ?? null,
      tenantName: tenant?.name ?? null,
      role,
      scopes: roleScopes(role),
      sessionId,
    };
  }

  return {
    cookieName: SESSION_COOKIE,
    async create(userId, tenantId) {
      const session = await lucia.createSession(userId, { tenant_id: tenantId } as never);
      return { sessionId: session.id, cookie: lucia.createSessionCookie(session.id).serialize() };
    },
    async validate(sessionId) {
      const { session, user } = await lucia.validateSession(sessionId);
      if (!session || !user) return { principal: null, cookie: null };
      const cookie = session.fresh ? lucia.createSessionCookie(session.id).serialize() : null;
      return { principal: principalFor(user.id, session.id, (session as { tenantId?: string | null }).tenantId ?? null), cookie };
    },
    async invalidate(sessionId) {
      await lucia.invalidateSession(sessionId);
      return lucia.createBlankSessionCookie().serialize();
    },
    setTenant(sessionId, userId, tenantId) {
      db.query("UPDATE sessions SET tenant_id = ? WHERE id = ? AND user_id = ?").run(tenantId, sessionRowId(sessionId), userId);
    },
    invalidateOthers(userId, keepSessionId) {
      // cross-tenant: a password is the user's, so all their sessions end, in whatever tenant each acts.
      db.query("DELETE FROM sessions WHERE user_id = ? AND id != ?").run(userId, sessionRowId(keepSessionId));
    },
  };
}
