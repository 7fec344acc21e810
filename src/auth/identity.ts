// Users, tenants and memberships: rules and SQL.
import type { Db } from "../db";
import { Conflict, Forbidden, Invalid, NotFound, Unauthorized } from "../errors";
import { newId, randomSecret } from "../tokens";
import { isoTime } from "../time";
import { checkLength, LIMITS } from "../limits";

export const ROLES = ["owner", "admin", "member", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  email: string;
  name: string;
  is_operator: boolean;
  created_at: number;
}

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  created_at: number;
}

export interface TenantMembership {
  slug: string;
  name: string;
  role: Role;
  tenant_id: string;
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  created_at: string;
}

const SLUG_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

type UserRow = Omit<User, "is_operator"> & { is_operator: number; password_hash: string };

const toUser = (r: UserRow): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  is_operator: r.is_operator === 1,
  created_at: r.created_at,
});

export function checkRole(field: string, role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new Invalid(field, `must be one of ${ROLES.join(", ")}`);
  return role as Role;
}

export function checkSlug(field: string, slug: string): string {
  if (slug.length > 63 || !SLUG_RE.test(slug)) {
    throw new Invalid(field, "must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters");
  }
  return slug;
}

export async function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

export async function createUser(
  db: Db,
  input: { email: string; password: string; name?: string; isOperator?: boolean },
  now = Date.now(),
): Promise<User> {
  const email = checkLength("email", input.email.trim(), LIMITS.email);
  if (!EMAIL_RE.test(email)) throw new Invalid("email", "is not an email address");
  if (input.password.length < 8) throw new Invalid("password", "must be at least 8 characters");
  checkLength("password", input.password, LIMITS.password);
  checkLength("name", input.name, LIMITS.name);
  if (findUserByEmail(db, email)) throw new Conflict(`a user with email ${email} already exists`);
  const hash = await hashPassword(input.password);
  const id = newId();
  db.query(
    "INSERT INTO users (id, email, name, password_hash, is_operator, created_at) VALUES ($id, $email, $name, $hash, $op, $now)",
  ).run({ id, email, name: input.name ?? "", hash, op: input.isOperator ? 1 : 0, now });
  return getUser(db, id);
}

/** How an e-mail address is looked up and rate-limited: trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function findUserByEmail(db: Db, email: string): User | null {
  const r = db.query<UserRow, [string]>("SELECT * FROM users WHERE email = ?").get(email.trim());
  return r ? toUser(r) : null;
}

export function getUser(db: Db, id: string): User {
  const r = db.query<UserRow, [string]>("SELECT * FROM users WHERE id = ?").get(id);
  if (!r) throw new NotFound("user");
  return toUser(r);
}

export async function setUserPassword(db: Db, userId: string, password: string): Promise<void> {
  if (password.length < 8) throw new Invalid("password", "must be at least 8 characters");
  checkLength("password", password, LIMITS.password);
  db.query("UPDATE users SET password_hash = ? WHERE id = ?").run(await hashPassword(password), userId);
}

export function setOperator(db: Db, userId: string, isOperator: boolean): void {
  db.query("UPDATE users SET is_operator = ? WHERE id = ?").run(isOperator ? 1 : 0, userId);
}

// A fixed argon2id hash, verified when the email is unknown so both failures cost the same time.
let dummyHash: Promise<string> | null = null;

/** Checks a login. Unknown email and wrong password fail alike, in about the same time. */
export async function verifyLogin(db: Db, email: string, password: string): Promise<User> {
  // users.email is COLLATE NOCASE, so the lower-cased address finds the row however it was written.
  const r = db.query<UserRow, [string]>("SELECT * FROM users WHERE email = ?").get(normalizeEmail(email));
  if (!r) {
    dummyHash ??= hashPassword("crontopus-timing-equaliser");
    await Bun.password.verify(password, await dummyHash);
    throw new Unauthorized("invalid email or password");
  }
  if (!(await Bun.password.verify(password, r.password_hash))) throw new Unauthorized("invalid email or password");
  return toUser(r);
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

export function findTenant(db: Db, slug: string): Tenant | null {
  return db.query<Tenant, [string]>("SELECT id, slug, name, created_at FROM tenants WHERE slug = ?").get(slug);
}

export function getTenant(db: Db, id: string): Tenant {
  const t = db.query<Tenant, [string]>("SELECT id, slug, name, created_at FROM tenants WHERE id = ?").get(id);
  if (!t) throw new NotFound("tenant");
  return t;
}

export function listUserTenants(db: Db, userId: string): TenantMembership[] {
  return db
    .query<TenantMembership, [string]>(
      `SELECT t.slug, t.name, m.role, t.id AS tenant_id FROM memberships m JOIN tenants t ON t.id = m.tenant_id
       WHERE m.user_id = ? ORDER BY t.slug`,
    )
    .all(userId);
}

export function findMembership(db: Db, tenantId: string, userId: string): Role | null {
  const r = db
    .query<{ role: Role }, [string, string]>("SELECT role FROM memberships WHERE tenant_id = ? AND user_id = ?")
    .get(tenantId, userId);
  return r?.role ?? null;
}

export function listMembers(db: Db, tenantId: string): Member[] {
  return db
    .query<Member, [string]>(
      `SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.tenant_id = ? ORDER BY u.email`,
    )
    .all(tenantId)
    .map((m) => ({ ...m, created_at: isoTime(m.created_at as unknown as number) }));
}

function getMember(db: Db, tenantId: string, userId: string): Member {
  const m = db
    .query<Member, [string, string]>(
      `SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.tenant_id = ? AND m.user_id = ?`,
    )
    .get(tenantId, userId);
  if (!m) throw new NotFound(`member ${userId}`);
  return { ...m, created_at: isoTime(m.created_at as unknown as number) };
}

/** Only an owner may grant, change or take away the owner role. */
function checkOwnerRule(actorRole: Role, role: Role, targetRole?: Role) {
  if ((role === "owner" || targetRole === "owner") && actorRole !== "owner") {
    throw new Forbidden("only an owner can grant or change the owner role");
  }
}

function countOwners(db: Db, tenantId: string): number {
  return db
    .query<{ n: number }, [string]>("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND role = 'owner'")
    .get(tenantId)!.n;
}

export async function addMember(
  db: Db,
  tenantId: string,
  actorRole: Role,
  input: { email: string; role: string; name?: string; password?: string },
  now = Date.now(),
): Promise<Member> {
  const role = checkRole("role", input.role);
  checkOwnerRule(actorRole, role);
  let user = findUserByEmail(db, input.email);
  if (!user) {
    if (!input.password) throw new Invalid("email", `no user with email ${input.email}; give a password to create one`);
    user = await createUser(db, { email: input.email, password: input.password, name: input.name }, now);
  }
  if (findMembership(db, tenantId, user.id)) throw new Conflict(`${user.email} is already a member`);
  db.query("INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES (?, ?, ?, ?)").run(tenantId, user.id, role, now);
  return getMember(db, tenantId, user.id);
}

export function updateMember(db: Db, tenantId: string, actorRole: Role, userId: string, roleInput: string): Member {
  const role = checkRole("role", roleInput);
  const current = getMember(db, tenantId, userId);
  checkOwnerRule(actorRole, role, current.role);
  return db.transaction(() => {
    if (current.role === "owner" && role !== "owner" && countOwners(db, tenantId) === 1) {
      throw new Conflict("the last owner cannot be demoted; make someone else owner first");
    }
    db.query("UPDATE memberships SET role = ? WHERE tenant_id = ? AND user_id = ?").run(role, tenantId, userId);
    return getMember(db, tenantId, userId);
  })();
}

export function removeMember(db: Db, tenantId: string, actorRole: Role, userId: string): void {
  const current = getMember(db, tenantId, userId);
  checkOwnerRule(actorRole, current.role, current.role);
  db.transaction(() => {
    if (current.role === "owner" && countOwners(db, tenantId) === 1) {
      throw new Conflict("the last owner cannot be removed");
    }
    db.query("DELETE FROM memberships WHERE tenant_id = ? AND user_id = ?").run(tenantId, userId);
    // Their API tokens for this tenant stop working with the membership.
    db.query("DELETE FROM api_tokens WHERE tenant_id = ? AND user_id = ?").run(tenantId, userId);
  })();
}

export interface TenantSettings {
  slug: string;
  name: string;
  ping_key: string;
  badge_key: string;
  auto_provision: boolean;
  retention_days: number;
  retention_runs: number;
  created_at: string;
}

export function getTenantSettings(db: Db, tenantId: string): TenantSettings {
  const r = db
    .query<Omit<TenantSettings, "auto_provision" | "created_at"> & { auto_provision: number; created_at: number }, [string]>(
      "SELECT slug, name, ping_key, badge_key, auto_provision, retention_days, retention_runs, created_at FROM tenants WHERE id = ?",
    )
    .get(tenantId);
  if (!r) throw new NotFound("tenant");
  return { ...r, auto_provision: r.auto_provision === 1, created_at: isoTime(r.created_at) };
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
