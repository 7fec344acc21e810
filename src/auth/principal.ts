// Who is calling, in which tenant, allowed to do what. Every surface resolves one.
import { Forbidden, Unauthorized } from "../errors";
import type { Role } from "../tenants/members";

export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  kind: "session" | "token";
  userId: string;
  email: string;
  name: string;
  isOperator: boolean;
  tenantId: string | null;
  tenantSlug: string | null;
  tenantName: string | null;
  role: Role | null;
  /** Effective scopes: the token's scopes within what the role allows. */
  scopes: Scope[];
  tokenId?: string;
  sessionId?: string;
}

/** What a role may do, before any token narrows it. */
export function roleScopes(role: Role | null): Scope[] {
  switch (role) {
    case "owner":
    case "admin":
      return ["read", "write", "admin"];
    case "member":
      return ["read", "write"];
    case "viewer":
      return ["read"];
    default:
      return [];
  }
}

export interface TenantPrincipal extends Principal {
  tenantId: string;
  tenantSlug: string;
  tenantName: string;
  role: Role;
}

/** The principal, which must act in a tenant and hold `scope` there. */
export function requireScope(p: Principal | null, scope: Scope): TenantPrincipal {
  if (!p) throw new Unauthorized();
  if (!p.tenantId || !p.role) throw new Forbidden("no active tenant: switch to a tenant first");
  if (!p.scopes.includes(scope)) {
    throw new Forbidden(p.kind === "token" ? tokenLacks(scope) : `the ${p.role} role cannot do this (needs '${scope}')`);
  }
  return p as TenantPrincipal;
}

const tokenLacks = (scope: Scope) => `this token lacks the '${scope}' scope`;

/**
 * For what a user may do on their own behalf (create a tenant, mint or revoke their tokens):
 * a session acts with all its user's rights, a token only when it was given `scope`.
 */
export function requireTokenScope(p: Principal, scope: Scope): void {
  if (p.kind === "token" && !p.scopes.includes(scope)) throw new Forbidden(tokenLacks(scope));
}

export function requireUser(p: Principal | null): Principal {
  if (!p) throw new Unauthorized();
  return p;
}
