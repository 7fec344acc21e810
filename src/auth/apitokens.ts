// API tokens: `ctp_` + 43 URL-safe characters, shown once, stored as SHA-256.
import type { Db } from "../db";
import { Forbidden, Invalid, NotFound } from "../errors";
import { newId, newToken, sha256 } from "../tokens";
import { getUser } from "./identity";
import { getTenant } from "../tenants/tenants";
import { findMembership, type Role } from "../tenants/members";
import { requireTokenScope, roleScopes, SCOPES, type Principal, type Scope, type TenantPrincipal } from "./principal";

/** A token as its user sees it: never its secret, which only createApiToken hands out, once. */
export interface ApiToken {
  id: string;
  tenant_id: string;
  user_id: string;
  name: string;
  /** The first characters of the secret, to recognise it by. */
  prefix: string;
  scopes: Scope[];
  expires_at: number | null;
  last_used_at: number | null;
  created_at: number;
}

interface TokenRow {
  id: string;
  tenant_id: string;
  user_id: string;
  name: string;
  token_hash: string;
  prefix: string;
  scopes: string;
  expires_at: number | null;
  last_used_at: number | null;
  created_at: number;
}

const toToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  tenant_id: r.tenant_id,
  user_id: r.user_id,
  name: r.name,
  prefix: r.prefix,
  scopes: r.scopes.split(",") as Scope[],
  expires_at: r.expires_at,
  last_used_at: r.last_used_at,
  created_at: r.created_at,
});

export function parseScopes(field: string, scopes: string[] | string | undefined, fallback: Scope[]): Scope[] {
  if (scopes === undefined) return fallback;
  const list = (typeof scopes === "string" ? scopes.split(",") : scopes).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new Invalid(field, "needs at least one scope");
  for (const s of list) if (!(SCOPES as readonly string[]).includes(s)) throw new Invalid(field, `unknown scope '${s}' (read, write, admin)`);
  return SCOPES.filter((s) => list.includes(s));
}

/**
 * Creates a token for `userId` in `tenantId`. Its scopes must lie within what the user's role
 * allows and, when a token creates a token, within the creating token's scopes.
 */
export function createApiToken(
  db: Db,
  tenantId: string,
  userId: string,
  input: { name: string; scopes?: string[] | string; expires_in_days?: number },
  limit: Scope[] | null = null,
  now = Date.now(),
): { token: string; api_token: ApiToken } {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new Invalid("name", "must be 1 to 100 characters");
  const role = findMembership(db, tenantId, userId);
  if (!role) throw new Forbidden("not a member of this tenant");
  const allowed = roleScopes(role).filter((s) => !limit || limit.includes(s));
  const scopes = parseScopes("scopes", input.scopes, allowed);
  const beyond = scopes.filter((s) => !allowed.includes(s));
  if (beyond.length) throw new Forbidden(`cannot grant scope ${beyond.join(", ")}`);
  if (input.expires_in_days !== undefined && !(input.expires_in_days > 0 && input.expires_in_days <= 3650)) {
    throw new Invalid("expires_in_days", "must be between 1 and 3650");
  }
  const token = newToken("ctp_");
  const id = newId();
  const expires = input.expires_in_days ? now + input.expires_in_days * 86_400_000 : null;
  db.query(
    `INSERT INTO api_tokens (id, tenant_id, user_id, name, token_hash, prefix, scopes, expires_at, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(id, tenantId, userId, name, sha256(token), token.slice(0, 8), scopes.join(","), expires, now);
  return { token, api_token: getApiToken(db, tenantId, userId, id) };
}

/** A token for the caller, in the tenant they act in. A token may mint one only with the admin scope, and not beyond its own scopes. */
export function createApiTokenFor(db: Db, caller: TenantPrincipal, input: Parameters<typeof createApiToken>[3], now = Date.now()) {
  requireTokenScope(caller, "admin");
  return createApiToken(db, caller.tenantId, caller.userId, input, caller.kind === "token" ? caller.scopes : null, now);
}

/** Revokes one of the caller's tokens. A token may always revoke itself; any other needs the admin scope. */
export function revokeApiTokenFor(db: Db, caller: TenantPrincipal, id: string): void {
  if (id !== caller.tokenId) requireTokenScope(caller, "admin");
  revokeApiToken(db, caller.tenantId, caller.userId, id);
}

export function listApiTokens(db: Db, tenantId: string, userId: string): ApiToken[] {
  return db
    .query<TokenRow, [string, string]>("SELECT * FROM api_tokens WHERE tenant_id = ? AND user_id = ? ORDER BY created_at")
    .all(tenantId, userId)
    .map(toToken);
}

function getApiToken(db: Db, tenantId: string, userId: string, id: string): ApiToken {
  const r = db
    .query<TokenRow, [string, string, string]>("SELECT * FROM api_tokens WHERE tenant_id = ? AND user_id = ? AND id = ?")
    .get(tenantId, userId, id);
  if (!r) throw new NotFound(`token ${id}`);
  return toToken(r);
}

export function revokeApiToken(db: Db, tenantId: string, userId: string, id: string): void {
  const res = db.query("DELETE FROM api_tokens WHERE tenant_id = ? AND user_id = ? AND id = ?").run(tenantId, userId, id);
  if (res.changes === 0) throw new NotFound(`token ${id}`);
}

// last_used_at is written at most once a minute per token, so reads stay reads.
const LAST_USED_RESOLUTION_MS = 60_000;

/** The principal behind a bearer token, or null when it is unknown, expired or orphaned. */
export function authenticateToken(db: Db, token: string, now = Date.now()): Principal | null {
  if (!token.startsWith("ctp_")) return null;
  // cross-tenant: a lookup by a secret token, which picks the tenant.
  const r = db.query<TokenRow, [string]>("SELECT * FROM api_tokens WHERE token_hash = ?").get(sha256(token));
  if (!r || (r.expires_at !== null && r.expires_at <= now)) return null;
  const role: Role | null = findMembership(db, r.tenant_id, r.user_id);
  if (!role) return null;
  if (r.last_used_at === null || now - r.last_used_at > LAST_USED_RESOLUTION_MS) {
    db.query("UPDATE api_tokens SET last_used_at = ? WHERE tenant_id = ? AND id = ?").run(now, r.tenant_id, r.id);
  }
  const user = getUser(db, r.user_id);
  const tenant = getTenant(db, r.tenant_id);
  const tokenScopes = r.scopes.split(",") as Scope[];
  return {
    kind: "token",
    userId: user.id,
    email: user.email,
    name: user.name,
    isOperator: user.is_operator,
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    tenantName: tenant.name,
    role,
    scopes: roleScopes(role).filter((s) => tokenScopes.includes(s)),
    tokenId: r.id,
  };
}
