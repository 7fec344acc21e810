// Memberships: who belongs to which tenant, in which role; rules and SQL.
import type { Db } from "../db";
import { Conflict, Forbidden, Invalid, NotFound } from "../errors";
import { findUserByEmail } from "../auth/identity";

export const ROLES = ["owner", "admin", "member", "viewer"] as const;
export type Role = (typeof ROLES)[number];

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
  /** When they joined the tenant. */
  created_at: number;
}

export function checkRole(field: string, role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new Invalid(field, `must be one of ${ROLES.join(", ")}`);
  return role as Role;
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
    .all(tenantId);
}

export function getMember(db: Db, tenantId: string, userId: string): Member {
  const m = db
    .query<Member, [string, string]>(
      `SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.tenant_id = ? AND m.user_id = ?`,
    )
    .get(tenantId, userId);
  if (!m) throw new NotFound(`member ${userId}`);
  return m;
}

/** Only an owner may grant, change or take away the owner role (an invitation as owner grants it). */
export function checkOwnerRule(actorRole: Role, role: Role, targetRole?: Role) {
  if (!ownerRuleAllows(actorRole, role, targetRole)) throw new Forbidden("only an owner can grant or change the owner role");
}

const ownerRuleAllows = (actorRole: Role, role: Role, targetRole?: Role) => actorRole === "owner" || (role !== "owner" && targetRole !== "owner");

/** The roles an actor may give a newcomer (an invitation's), by the owner rule. */
export function grantableRoles(actorRole: Role): Role[] {
  return ROLES.filter((role) => ownerRuleAllows(actorRole, role));
}

/** What an actor in `actorRole` may do to one member, by the rules updateMember and removeMember apply. */
export interface MemberChanges {
  /** The roles updateMember would give this member (their own included); empty when none. */
  roles: Role[];
  /** Whether removeMember would remove them. */
  removable: boolean;
}

/**
 * The changes updateMember and removeMember would allow an actor (who holds the admin scope: the
 * surfaces check that) on a member, in a tenant with `owners` owners; so that a page offers
 * only those. The owner rule, and the last owner stays an owner.
 */
export function memberChanges(actorRole: Role, targetRole: Role, owners: number): MemberChanges {
  const lastOwner = targetRole === "owner" && owners <= 1;
  const roles = ROLES.filter((role) => ownerRuleAllows(actorRole, role, targetRole) && !(lastOwner && role !== "owner"));
  return { roles, removable: ownerRuleAllows(actorRole, targetRole, targetRole) && !lastOwner };
}

function countOwners(db: Db, tenantId: string): number {
  return db
    .query<{ n: number }, [string]>("SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND role = 'owner'")
    .get(tenantId)!.n;
}

/**
 * Makes an existing user a member at once, without their consent: for an operator on the data
 * directory (`crontopus admin create-user --tenant`) and test set-ups. People join through
 * invitations (invitations.ts), which the API offers instead.
 */
export async function addMember(db: Db, tenantId: string, actorRole: Role, input: { email: string; role: string }, now = Date.now()): Promise<Member> {
  const role = checkRole("role", input.role);
  checkOwnerRule(actorRole, role);
  const user = findUserByEmail(db, input.email);
  if (!user) throw new Invalid("email", `no user with email ${input.email}`);
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

/** Removes a member (the last owner stays); returns who was removed. */
export function removeMember(db: Db, tenantId: string, actorRole: Role, userId: string): Member {
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
  return current;
}
