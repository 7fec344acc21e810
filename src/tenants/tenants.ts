// Tenants and their settings: rules and SQL. (Memberships: members.ts; namespaces: namespaces.ts.)
import type { Db } from "../db";
import { Conflict, Invalid, NotFound } from "../errors";
import { newId, randomSecret } from "../tokens";
import { checkLength, LIMITS } from "../limits";
import { requireTokenScope, type Principal } from "../auth/principal";
import { listUserTenants, type TenantMembership } from "./members";

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  created_at: number;
}

const SLUG_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function checkSlug(field: string, slug: string): string {
  if (slug.length > 63 || !SLUG_RE.test(slug)) {
    throw new Invalid(field, "must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters");
  }
  return slug;
}

export function createTenant(db: Db, input: { slug: string; name?: string }, ownerId: string | null, now = Date.now()): Tenant {
  const slug = checkSlug("slug", input.slug);
  checkLength("name", input.name, LIMITS.name);
  if (findTenant(db, slug)) throw new Conflict(`tenant ${slug} already exists`);
  const id = newId();
  db.transaction(() => {
    db.query("INSERT INTO tenants (id, slug, name, created_at, ping_key, badge_key) VALUES (?, ?, ?, ?, ?, ?)").run(
      id,
      slug,
      input.name || slug,
      now,
      randomSecret(16),
      randomSecret(16),
    );
    db.query("INSERT INTO namespaces (tenant_id, name, created_at) VALUES (?, 'default', ?)").run(id, now);
    if (ownerId) {
      db.query("INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)").run(id, ownerId, now);
    }
  })();
  return getTenant(db, id);
}

/** A tenant the caller creates and owns; a token needs the admin scope for it. */
export function createTenantFor(db: Db, caller: Principal, input: { slug: string; name?: string }, now = Date.now()): TenantMembership & Tenant {
  requireTokenScope(caller, "admin");
  const tenant = createTenant(db, input, caller.userId, now);
  return { ...tenant, tenant_id: tenant.id, role: "owner" };
}

/** The tenants the caller sees: all of a session's user's; a token is bound to one tenant and sees only that one. */
export function listTenantsFor(db: Db, caller: Principal): TenantMembership[] {
  return listUserTenants(db, caller.userId).filter((m) => caller.kind !== "token" || m.tenant_id === caller.tenantId);
}

export function findTenant(db: Db, slug: string): Tenant | null {
  return db.query<Tenant, [string]>("SELECT id, slug, name, created_at FROM tenants WHERE slug = ?").get(slug);
}

export function getTenant(db: Db, id: string): Tenant {
  const t = db.query<Tenant, [string]>("SELECT id, slug, name, created_at FROM tenants WHERE id = ?").get(id);
  if (!t) throw new NotFound("tenant");
  return t;
}

export interface TenantSettings {
  slug: string;
  name: string;
  ping_key: string;
  badge_key: string;
  auto_provision: boolean;
  retention_days: number;
  retention_runs: number;
  created_at: number;
}

export function getTenantSettings(db: Db, tenantId: string): TenantSettings {
  const r = db
    .query<Omit<TenantSettings, "auto_provision"> & { auto_provision: number }, [string]>(
      "SELECT slug, name, ping_key, badge_key, auto_provision, retention_days, retention_runs, created_at FROM tenants WHERE id = ?",
    )
    .get(tenantId);
  if (!r) throw new NotFound("tenant");
  return { ...r, auto_provision: r.auto_provision === 1 };
}

export function updateTenantSettings(
  db: Db,
  tenantId: string,
  input: { name?: string; auto_provision?: boolean; retention_days?: number; retention_runs?: number },
): TenantSettings {
  if (input.name !== undefined && !input.name.trim()) throw new Invalid("name", "must not be empty");
  checkLength("name", input.name, LIMITS.name);
  if (input.retention_days !== undefined && !(Number.isInteger(input.retention_days) && input.retention_days >= 1 && input.retention_days <= 3650)) {
    throw new Invalid("retention_days", "must be 1 to 3650");
  }
  if (input.retention_runs !== undefined && !(Number.isInteger(input.retention_runs) && input.retention_runs >= 10 && input.retention_runs <= 100_000)) {
    throw new Invalid("retention_runs", "must be 10 to 100000");
  }
  db.query(
    `UPDATE tenants SET name = coalesce($name, name), auto_provision = coalesce($auto, auto_provision),
       retention_days = coalesce($days, retention_days), retention_runs = coalesce($runs, retention_runs) WHERE id = $id`,
  ).run({
    id: tenantId,
    name: input.name?.trim() ?? null,
    auto: input.auto_provision === undefined ? null : input.auto_provision ? 1 : 0,
    days: input.retention_days ?? null,
    runs: input.retention_runs ?? null,
  });
  return getTenantSettings(db, tenantId);
}

/** New ping or badge key: every old slug ping URL or badge URL stops working. */
export function rotateTenantKey(db: Db, tenantId: string, key: "ping_key" | "badge_key"): TenantSettings {
  db.query(`UPDATE tenants SET ${key === "ping_key" ? "ping_key" : "badge_key"} = ? WHERE id = ?`).run(randomSecret(16), tenantId);
  return getTenantSettings(db, tenantId);
}
