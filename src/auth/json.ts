// Users, sessions and API tokens as API JSON: the one place that knows their field names and writes times as ISO 8601.
import { isoTime } from "../time";
import type { TenantMembership } from "../tenants/members";
import type { ApiToken } from "./apitokens";
import type { User } from "./identity";
import type { Principal } from "./principal";

export const userJson = (u: Pick<User, "id" | "email" | "name" | "is_operator">) => ({ id: u.id, email: u.email, name: u.name, is_operator: u.is_operator });

/** Who the caller is: user, active tenant, role, scopes and how they authenticated. */
export function meJson(p: Principal) {
  return {
    user: userJson({ id: p.userId, email: p.email, name: p.name, is_operator: p.isOperator }),
    tenant: p.tenantSlug ? { slug: p.tenantSlug, name: p.tenantName } : null,
    role: p.role,
    scopes: p.scopes,
    auth: p.kind,
    ...(p.kind === "token" ? { token: { id: p.tokenId } } : {}),
  };
}

export const loginJson = (user: User, tenants: TenantMembership[]) => ({
  user: userJson(user),
  tenants: tenants.map((m) => ({ slug: m.slug, name: m.name, role: m.role })),
});

export const tokenJson = (t: ApiToken) => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  scopes: t.scopes,
  user_id: t.user_id,
  expires_at: isoTime(t.expires_at),
  last_used_at: isoTime(t.last_used_at),
  created_at: isoTime(t.created_at),
});

/** A token just created, with its secret: the one answer that shows it. */
export const createdTokenJson = (created: { token: string; api_token: ApiToken }) => ({ ...tokenJson(created.api_token), token: created.token });
