// Invitations: how a person joins a tenant. An admin invites an e-mail address with a role; the
// answer is the same whether anyone has that address yet, so inviting tells nothing about other
// tenants' users. The invited person accepts with the one-time link (`/invitations/<token>`),
// signed in as the user of that address or signing up with it. Rules and SQL.
import type { Db } from "../db";
import type { Config } from "../config";
import type { Logger } from "../log";
import { Conflict, Forbidden, NotFound, TooManyRequests } from "../errors";
import { LIMITS } from "../limits";
import { newId, newToken, sha256 } from "../tokens";
import { checkEmail, createUser, findUserByEmail, normalizeEmail, type User } from "../auth/identity";
import { requireScope, requireTokenScope, requireUser, type Principal } from "../auth/principal";
import { sendMail, type Mail, type SendResult } from "../alerts/senders";
import { checkOwnerRule, checkRole, getMember, type Member, type Role } from "./members";
import { getTenant, type Tenant } from "./tenants";

/** How long a link works: 7 days from the invitation. */
export const INVITATION_TTL_MS = 7 * 86_400_000;
/** Rows this long past their expiry are deleted when the tenant invites again. */
const KEEP_EXPIRED_MS = 30 * 86_400_000;
const HOUR_MS = 3_600_000;

export type InvitationState = "pending" | "expired" | "accepted" | "revoked";

/** An invitation as the tenant's admins see it: never its token, which only createInvitation hands out, once. */
export interface Invitation {
  id: string;
  tenant_id: string;
  /** Lower-cased. */
  email: string;
  role: Role;
  /** The user who invited, while that user exists. */
  invited_by: string | null;
  created_at: number;
  expires_at: number;
}

export interface CreatedInvitation extends Invitation {
  /** The link's secret (`cti_…`): here once; only its SHA-256 is stored. */
  token: string;
}

/** What the invitation page shows to whoever holds the link. */
export interface InvitationDescription {
  tenant: { slug: string; name: string };
  email: string;
  role: Role;
  expires_at: number;
  /** Only a pending one can be accepted. */
  state: InvitationState;
  /** The inviter's name (or e-mail, without a name), while that user exists. */
  invited_by: string | null;
}

export interface AcceptedInvitation {
  tenant: Tenant;
  /** The new membership. */
  member: Member;
}

/** The invited address is a member of the tenant already (a Conflict, about the e-mail field). */
export class AlreadyMember extends Conflict {
  constructor(readonly email: string) {
    super(`${email} is already a member`);
  }
}

interface InvitationRow extends Invitation {
  accepted_at: number | null;
  revoked_at: number | null;
}

const COLUMNS = "id, tenant_id, email, role, invited_by, created_at, expires_at";

/** The absolute link an invitation's token opens (the console page that accepts it). */
export function invitationUrl(baseUrl: string, token: string): string {
  return `${baseUrl}/invitations/${token}`;
}

function stateOf(r: InvitationRow, now: number): InvitationState {
  if (r.accepted_at !== null) return "accepted";
  if (r.revoked_at !== null) return "revoked";
  return r.expires_at <= now ? "expired" : "pending";
}

/**
 * Invites `email` into the caller's tenant with `role`; needs the admin scope, and only an owner
 * invites an owner. Whether a user has that address is neither looked up nor told; an address
 * that is already a member of this tenant (which its admins see anyway) is a Conflict. Inviting
 * the same address again replaces its pending invitation, so the earlier link stops working.
 */
export function createInvitation(db: Db, caller: Principal | null, input: { email: string; role: string }, now: number): CreatedInvitation {
  const p = requireScope(caller, "admin");
  const email = normalizeEmail(checkEmail("email", input.email));
  const role = checkRole("role", input.role);
  checkOwnerRule(p.role, role);
  const token = newToken("cti_");
  const id = newId();
  db.transaction(() => {
    db.query("DELETE FROM invitations WHERE tenant_id = ? AND expires_at < ?").run(p.tenantId, now - KEEP_EXPIRED_MS);
    const member = db
      .query("SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = ? AND u.email = ?")
      .get(p.tenantId, email);
    if (member) throw new AlreadyMember(email);
    checkInvitationLimits(db, p.tenantId, email, now);
    // A new link for the same address replaces the one sent before.
    db.query("UPDATE invitations SET revoked_at = ? WHERE tenant_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL").run(now, p.tenantId, email);
    db.query(
      `INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at)
       VALUES ($id, $tenant, $email, $role, $hash, $by, $now, $expires)`,
    ).run({ id, tenant: p.tenantId, email, role, hash: sha256(token), by: p.userId, now, expires: now + INVITATION_TTL_MS });
  })();
  return { ...getInvitation(db, p.tenantId, id), token };
}

/**
 * Each invitation can send a mail to any address: at most LIMITS.invitationsPerHour a tenant an
 * hour, and at most LIMITS.pendingInvitations waiting at once (the one being replaced aside).
 */
function checkInvitationLimits(db: Db, tenantId: string, email: string, now: number) {
  const recent = db
    .query<{ n: number; oldest: number | null }, [string, number]>("SELECT count(*) AS n, min(created_at) AS oldest FROM invitations WHERE tenant_id = ? AND created_at > ?")
    .get(tenantId, now - HOUR_MS)!;
  if (recent.n >= LIMITS.invitationsPerHour) {
    const wait = Math.max(1, Math.ceil((recent.oldest! + HOUR_MS - now) / 1000));
    throw new TooManyRequests(`at most ${LIMITS.invitationsPerHour} invitations an hour; try again later`, wait);
  }
  const pending = db
    .query<{ n: number }, [string, number, string]>(
      "SELECT count(*) AS n FROM invitations WHERE tenant_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ? AND email <> ?",
    )
    .get(tenantId, now, email)!.n;
  if (pending >= LIMITS.pendingInvitations) {
    throw new Conflict(`the tenant has ${pending} pending invitations, the most it may have; revoke some first`);
  }
}

function getInvitation(db: Db, tenantId: string, id: string): Invitation {
  const r = db.query<Invitation, [string, string]>(`SELECT ${COLUMNS} FROM invitations WHERE tenant_id = ? AND id = ?`).get(tenantId, id);
  if (!r) throw new NotFound("invitation");
  return r;
}

/** The caller's tenant's pending invitations (neither accepted, revoked nor expired), newest first; needs the admin scope. */
export function listInvitations(db: Db, caller: Principal | null, now: number): Invitation[] {
  const p = requireScope(caller, "admin");
  return db
    .query<Invitation, [string, number]>(
      `SELECT ${COLUMNS} FROM invitations WHERE tenant_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?
       ORDER BY created_at DESC, id DESC`,
    )
    .all(p.tenantId, now);
}

/** Revokes a pending invitation of the caller's tenant: its link stops working. Needs the admin scope. Returns it. */
export function revokeInvitation(db: Db, caller: Principal | null, id: string, now: number): Invitation {
  const p = requireScope(caller, "admin");
  const r = db
    .query<Invitation, [number, string, string, number]>(
      `UPDATE invitations SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?
       RETURNING ${COLUMNS}`,
    )
    .get(now, p.tenantId, id, now);
  if (!r) throw new NotFound(`invitation ${id}`);
  return r;
}

function findByToken(db: Db, token: string): InvitationRow | null {
  return db
    // cross-tenant: an invitation is found by the secret token of its link, which picks the tenant.
    .query<InvitationRow, [string]>(`SELECT ${COLUMNS}, accepted_at, revoked_at FROM invitations WHERE token_hash = ?`)
    .get(sha256(token));
}

/** What the page at the link shows: the tenant, the role, whether it can still be accepted. Null for a link that is not one. */
export function describeInvitation(db: Db, token: string, now: number): InvitationDescription | null {
  const r = findByToken(db, token);
  if (!r) return null;
  const tenant = getTenant(db, r.tenant_id);
  const inviter = r.invited_by
    ? db.query<{ name: string; email: string }, [string]>("SELECT name, email FROM users WHERE id = ?").get(r.invited_by)
    : null;
  return {
    tenant: { slug: tenant.slug, name: tenant.name },
    email: r.email,
    role: r.role,
    expires_at: r.expires_at,
    state: stateOf(r, now),
    invited_by: inviter ? inviter.name || inviter.email : null,
  };
}

/** The invitation of a link that can still be accepted; otherwise why not. */
function usableInvitation(db: Db, token: string, now: number): InvitationRow {
  const r = findByToken(db, token);
  if (!r) throw new NotFound("invitation");
  switch (stateOf(r, now)) {
    case "accepted":
      throw new Conflict("this invitation has already been used");
    case "revoked":
      throw new Conflict("this invitation was revoked; ask for a new one");
    case "expired":
      throw new Conflict("this invitation has expired; ask for a new one");
  }
  return r;
}

/** Makes `userId` a member with the invitation's role and uses the invitation up, in one transaction. */
function join(db: Db, inv: InvitationRow, userId: string, now: number): AcceptedInvitation {
  const tenant = getTenant(db, inv.tenant_id);
  db.transaction(() => {
    const used = db
      .query("UPDATE invitations SET accepted_at = ?, accepted_by = ? WHERE tenant_id = ? AND id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?")
      .run(now, userId, inv.tenant_id, inv.id, now);
    if (used.changes === 0) throw new Conflict("this invitation has already been used");
    if (db.query("SELECT 1 FROM memberships WHERE tenant_id = ? AND user_id = ?").get(inv.tenant_id, userId)) {
      throw new Conflict(`you are already a member of ${tenant.slug}`);
    }
    db.query("INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES (?, ?, ?, ?)").run(inv.tenant_id, userId, inv.role, now);
  })();
  return { tenant, member: getMember(db, inv.tenant_id, userId) };
}

/**
 * Accepts the invitation of a link as the signed-in caller, who must be the user of the invited
 * address: the membership is made with the invitation's role and the link is used up. A token
 * accepts only with the admin scope (joining a tenant is the user's consent, as creating one is).
 * An expired, used or revoked link is a Conflict saying which; an unknown one, NotFound.
 */
export function acceptInvitation(db: Db, caller: Principal | null, token: string, now: number): AcceptedInvitation {
  const user = requireUser(caller);
  requireTokenScope(user, "admin");
  const inv = usableInvitation(db, token, now);
  if (normalizeEmail(user.email) !== inv.email) throw new Forbidden(`this invitation is for ${inv.email}; sign in as that user to accept it`);
  return join(db, inv, user.userId, now);
}

/**
 * Signing up through the link: creates the user of the invited address with this password (and
 * name), then accepts as them. A dead link creates no one; an address that already has a user
 * is a Conflict (that person signs in and accepts instead).
 */
export async function acceptInvitationAsNewUser(
  db: Db,
  token: string,
  input: { password: string; name?: string },
  now: number,
): Promise<{ user: User } & AcceptedInvitation> {
  const inv = usableInvitation(db, token, now);
  if (findUserByEmail(db, inv.email)) throw new Conflict(`${inv.email} already has an account: sign in to accept the invitation`);
  const user = await createUser(db, { email: inv.email, password: input.password, name: input.name }, now);
  return { user, ...join(db, inv, user.id, now) };
}

/** The one plain message that carries an invitation's link. */
export function invitationMail(inv: CreatedInvitation, from: { tenantName: string; inviter: string }, url: string): Mail {
  const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();
  const until = new Date(inv.expires_at).toISOString().slice(0, 16).replace("T", " ");
  return {
    to: [inv.email],
    subject: oneLine(`You are invited to ${from.tenantName} on Crontopus`),
    text: [
      `${oneLine(from.inviter)} invited you to join ${oneLine(from.tenantName)} on Crontopus, with the role ${inv.role}.`,
      "",
      "Accept the invitation here (sign in first, or create your account with this address):",
      url,
      "",
      `The link works once, until ${until} UTC. If you did not expect this invitation, ignore this message.`,
      "",
    ].join("\n"),
    event: "invitation",
  };
}

export interface InviteDeps {
  db: Db;
  config: Pick<Config, "baseUrl" | "smtpUrl" | "smtpFrom" | "allowPrivateTargets">;
  log: Logger;
}

/**
 * createInvitation, and when SMTP is configured its link mailed to the address. The mail goes
 * out after the answer (the link is shown to the inviter too): `mailed` settles with the relay's
 * answer, or null without SMTP, and never rejects; a failure is logged.
 */
export function invite(
  deps: InviteDeps,
  caller: Principal | null,
  input: { email: string; role: string },
  now: number,
): { invitation: CreatedInvitation; mailed: Promise<SendResult | null> } {
  const invitation = createInvitation(deps.db, caller, input, now);
  const p = requireScope(caller, "admin");
  const { smtpUrl, smtpFrom, allowPrivateTargets, baseUrl } = deps.config;
  if (!smtpUrl) return { invitation, mailed: Promise.resolve(null) };
  const inviter = p.name ? `${p.name} (${p.email})` : p.email;
  const mail = invitationMail(invitation, { tenantName: p.tenantName, inviter }, invitationUrl(baseUrl, invitation.token));
  const mailed = sendMail(mail, { smtpUrl, smtpFrom, allowPrivateTargets }).then((result) => {
    if (!result.ok) deps.log.warn("invitation not mailed", { tenant: p.tenantSlug, invitation: invitation.id, error: result.error ?? `SMTP ${result.code}` });
    return result;
  });
  return { invitation, mailed };
}
