// Invitations, at the service. alice owns acme; dave is an admin of acme and victor a viewer, mia a
// member. bob has an account (he owns initech) and never joins acme; nobody has carol's address.
// charlie owns globex. A test in which someone joins acme has a newcomer of its own, so that the
// tests hold in any order.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Conflict, Forbidden, Invalid, NotFound, TooManyRequests } from "../errors";
import { createUser, findUserByEmail, verifyLogin } from "../auth/identity";
import { createLogger } from "../log";
import { ownerOf, PASSWORD, sessionCaller, tokenCaller } from "../../test/helpers";
import { rejected, thrown } from "../../test/thrown";
import { startSmtpServer, type SmtpServer } from "../../test/smtp";
import { LIMITS } from "../limits";
import type { Scope, TenantPrincipal } from "../auth/principal";
import { addMember, findMembership } from "./members";
import { createTenant } from "./tenants";
import {
  AlreadyMember,
  acceptInvitation,
  acceptInvitationAsNewUser,
  createInvitation,
  describeInvitation,
  INVITATION_TTL_MS,
  invitationUrl,
  invite,
  listInvitations,
  revokeInvitation,
} from "./invitations";

const NOW = Date.UTC(2026, 10, 20, 12);
const DAY = 86_400_000;
const { db, userId: aliceId, tenants } = await ownerOf("alice", ["acme"], NOW);
const acme = tenants.acme!;
const user = (name: string) => createUser(db, { email: `${name}@example.com`, password: PASSWORD, name: name[0]!.toUpperCase() + name.slice(1) }, NOW);
const [bobUser, charlieUser, daveUser, victorUser, miaUser] = await Promise.all(["bob", "charlie", "dave", "victor", "mia"].map(user));
const initech = createTenant(db, { slug: "initech", name: "Initech" }, bobUser!.id, NOW).id;
const globex = createTenant(db, { slug: "globex" }, charlieUser!.id, NOW).id;
await addMember(db, acme, "owner", { email: "dave@example.com", role: "admin" }, NOW);
await addMember(db, acme, "owner", { email: "victor@example.com", role: "viewer" }, NOW);
await addMember(db, acme, "owner", { email: "mia@example.com", role: "member" }, NOW);
const alice = await sessionCaller(db, aliceId, acme);
const dave = await sessionCaller(db, daveUser!.id, acme);
const victor = await sessionCaller(db, victorUser!.id, acme);
const mia = await sessionCaller(db, miaUser!.id, acme);
const bob = await sessionCaller(db, bobUser!.id, initech);
const charlie = await sessionCaller(db, charlieUser!.id, globex);

/** A person with an account and a tenant of their own, not in acme. */
async function newcomer(name: string) {
  const u = await user(name);
  const own = createTenant(db, { slug: `${name}-co` }, u.id, NOW).id;
  return { ...u, session: await sessionCaller(db, u.id, own), tokenWith: (scopes: Scope[]) => tokenCaller(db, u.id, own, scopes, NOW) };
}

const pendingEmails = (caller: TenantPrincipal, now = NOW) => listInvitations(db, caller, now).map((i) => i.email);

describe("inviting", () => {
  test("answers the same whether the address has an account or not, and adds no one yet", () => {
    const registered = createInvitation(db, alice, { email: "bob@example.com", role: "member" }, NOW);
    const unknown = createInvitation(db, alice, { email: "carol@example.com", role: "member" }, NOW);
    const shape = ({ id: _i, email: _e, token: _t, ...rest }: typeof registered) => rest;
    expect(shape(registered)).toEqual(shape(unknown));
    expect(shape(registered)).toEqual({ tenant_id: acme, role: "member", invited_by: aliceId, created_at: NOW, expires_at: NOW + INVITATION_TTL_MS });
    expect(Object.keys(registered).sort()).toEqual(Object.keys(unknown).sort());
    expect(registered.token).toMatch(/^cti_[A-Za-z0-9_-]{43}$/);
    expect(findMembership(db, acme, bobUser!.id)).toBeNull();
    expect(findUserByEmail(db, "carol@example.com")).toBeNull();
  });

  test("lasts 7 days", () => {
    expect(INVITATION_TTL_MS).toBe(7 * DAY);
  });

  test("stores only a hash of the link's token", () => {
    const inv = createInvitation(db, alice, { email: "hash@example.com", role: "viewer" }, NOW);
    const row = db.query<Record<string, unknown>, [string]>("SELECT * FROM invitations WHERE id = ?").get(inv.id)!;
    expect(JSON.stringify(row)).not.toContain(inv.token);
    expect(JSON.stringify(listInvitations(db, alice, NOW))).not.toContain(inv.token);
  });

  test("checks the address and the role, naming the field", () => {
    expect(thrown(Invalid, () => createInvitation(db, alice, { email: "not-an-address", role: "member" }, NOW)).message).toBe("email: is not an email address");
    expect(thrown(Invalid, () => createInvitation(db, alice, { email: `${"x".repeat(250)}@example.com`, role: "member" }, NOW)).message).toBe(
      "email: must be at most 254 characters (got 262)",
    );
    expect(thrown(Invalid, () => createInvitation(db, alice, { email: "god@example.com", role: "god" }, NOW)).message).toBe("role: must be one of owner, admin, member, viewer");
  });

  test("a viewer or a member cannot invite, list or revoke", () => {
    const inv = createInvitation(db, alice, { email: "viewers@example.com", role: "viewer" }, NOW);
    expect(thrown(Forbidden, () => createInvitation(db, victor, { email: "x@example.com", role: "viewer" }, NOW)).message).toBe("the viewer role cannot do this (needs 'admin')");
    expect(thrown(Forbidden, () => createInvitation(db, mia, { email: "x@example.com", role: "viewer" }, NOW)).message).toBe("the member role cannot do this (needs 'admin')");
    expect(() => listInvitations(db, victor, NOW)).toThrow(Forbidden);
    expect(() => revokeInvitation(db, mia, inv.id, NOW)).toThrow(Forbidden);
    expect(pendingEmails(alice)).toContain("viewers@example.com");
  });

  test("only an owner invites an owner; an admin invites the other roles", () => {
    expect(thrown(Forbidden, () => createInvitation(db, dave, { email: "boss@example.com", role: "owner" }, NOW)).message).toBe("only an owner can grant or change the owner role");
    expect(createInvitation(db, dave, { email: "helper@example.com", role: "admin" }, NOW).role).toBe("admin");
    expect(createInvitation(db, alice, { email: "boss@example.com", role: "owner" }, NOW).role).toBe("owner");
  });

  test("an address that is already a member of the tenant is a conflict, which names the address", () => {
    const e = thrown(AlreadyMember, () => createInvitation(db, alice, { email: "Mia@Example.com", role: "admin" }, NOW));
    expect([e.message, e.email, e instanceof Conflict]).toEqual(["mia@example.com is already a member", "mia@example.com", true]);
  });

  test("inviting an address again replaces its pending invitation: the earlier link stops working", () => {
    const first = createInvitation(db, alice, { email: "again@example.com", role: "viewer" }, NOW);
    const second = createInvitation(db, alice, { email: "AGAIN@example.com", role: "member" }, NOW + 1000);
    expect(listInvitations(db, alice, NOW + 1000).filter((i) => i.email === "again@example.com").map((i) => [i.id, i.role])).toEqual([[second.id, "member"]]);
    expect(describeInvitation(db, first.token, NOW + 1000)?.state).toBe("revoked");
  });
});

describe("accepting", () => {
  test("makes the invited user a member with the invitation's role, once", async () => {
    const nina = await newcomer("nina");
    const inv = createInvitation(db, alice, { email: "nina@example.com", role: "viewer" }, NOW);
    const accepted = acceptInvitation(db, nina.session, inv.token, NOW + DAY);
    expect(accepted.tenant).toMatchObject({ id: acme, slug: "acme" });
    expect(accepted.member).toMatchObject({ user_id: nina.id, email: "nina@example.com", role: "viewer", created_at: NOW + DAY });
    expect(findMembership(db, acme, nina.id)).toBe("viewer");
    expect(thrown(Conflict, () => acceptInvitation(db, nina.session, inv.token, NOW + DAY)).message).toBe("this invitation has already been used");
    expect(describeInvitation(db, inv.token, NOW + DAY)?.state).toBe("accepted");
    expect(pendingEmails(alice, NOW + DAY)).not.toContain("nina@example.com");
  });

  test("an expired link is refused; a millisecond before, it works", async () => {
    const oscar = await newcomer("oscar");
    const late = createInvitation(db, alice, { email: "oscar@example.com", role: "member" }, NOW);
    const expiry = NOW + INVITATION_TTL_MS;
    expect(thrown(Conflict, () => acceptInvitation(db, oscar.session, late.token, expiry)).message).toBe("this invitation has expired; ask for a new one");
    expect(describeInvitation(db, late.token, expiry)?.state).toBe("expired");
    expect(pendingEmails(alice, expiry)).not.toContain("oscar@example.com");
    expect(() => revokeInvitation(db, alice, late.id, expiry)).toThrow(NotFound);
    expect(findMembership(db, acme, oscar.id)).toBeNull();
    const fresh = createInvitation(db, alice, { email: "oscar@example.com", role: "member" }, NOW);
    expect(acceptInvitation(db, oscar.session, fresh.token, expiry - 1).member.role).toBe("member");
  });

  test("a revoked link is refused, and is gone from the pending list", () => {
    const inv = createInvitation(db, alice, { email: "revoked@example.com", role: "member" }, NOW);
    const { token: _token, ...shown } = inv;
    expect(revokeInvitation(db, dave, inv.id, NOW + 1)).toEqual(shown);
    expect(pendingEmails(alice, NOW + 1)).not.toContain("revoked@example.com");
    expect(describeInvitation(db, inv.token, NOW + 1)?.state).toBe("revoked");
    expect(thrown(NotFound, () => revokeInvitation(db, alice, inv.id, NOW + 2)).message).toBe(`invitation ${inv.id} not found`);
  });

  test("is for the user of the invited address only", () => {
    const inv = createInvitation(db, alice, { email: "carol@example.com", role: "admin" }, NOW);
    expect(thrown(Forbidden, () => acceptInvitation(db, charlie, inv.token, NOW)).message).toBe("this invitation is for carol@example.com; sign in as that user to accept it");
    expect(findMembership(db, acme, charlieUser!.id)).toBeNull();
    expect(describeInvitation(db, inv.token, NOW)?.state).toBe("pending");
  });

  test("with a token takes the admin scope: joining a tenant is the user's consent", async () => {
    const pat = await newcomer("pat");
    const inv = createInvitation(db, alice, { email: "pat@example.com", role: "member" }, NOW);
    expect(thrown(Forbidden, () => acceptInvitation(db, pat.tokenWith(["read", "write"]), inv.token, NOW)).message).toBe("this token lacks the 'admin' scope");
    expect(findMembership(db, acme, pat.id)).toBeNull();
    expect(acceptInvitation(db, pat.tokenWith(["read", "admin"]), inv.token, NOW).member.role).toBe("member");
  });

  test("by someone already a member is a conflict, and leaves the link pending", async () => {
    const inv = createInvitation(db, alice, { email: "late-joiner@example.com", role: "member" }, NOW);
    // Meanwhile an operator added them directly.
    const joiner = await createUser(db, { email: "late-joiner@example.com", password: PASSWORD }, NOW);
    await addMember(db, acme, "owner", { email: joiner.email, role: "viewer" }, NOW);
    const caller = await sessionCaller(db, joiner.id, acme);
    expect(thrown(Conflict, () => acceptInvitation(db, caller, inv.token, NOW)).message).toBe("you are already a member of acme");
    expect(describeInvitation(db, inv.token, NOW)?.state).toBe("pending");
    expect(findMembership(db, acme, joiner.id)).toBe("viewer");
  });

  test("a link that is not one is not found, and describes as null", () => {
    expect(thrown(NotFound, () => acceptInvitation(db, bob, "cti_nope", NOW)).message).toBe("invitation not found");
    expect(describeInvitation(db, "cti_nope", NOW)).toBeNull();
  });
});

describe("signing up through the link", () => {
  test("creates the user of the invited address and the membership", async () => {
    const inv = createInvitation(db, dave, { email: "erin@example.com", role: "member" }, NOW);
    const r = await acceptInvitationAsNewUser(db, inv.token, { password: "erin-password", name: "Erin" }, NOW + 5);
    expect(r.user).toMatchObject({ email: "erin@example.com", name: "Erin" });
    expect(r.member).toMatchObject({ user_id: r.user.id, role: "member" });
    expect((await verifyLogin(db, "erin@example.com", "erin-password")).id).toBe(r.user.id);
    expect(describeInvitation(db, inv.token, NOW + 5)?.state).toBe("accepted");
  });

  test("a dead link creates no one; an address with an account signs in instead", async () => {
    const inv = createInvitation(db, alice, { email: "frank@example.com", role: "member" }, NOW);
    revokeInvitation(db, alice, inv.id, NOW);
    expect((await rejected(Conflict, acceptInvitationAsNewUser(db, inv.token, { password: "frank-password" }, NOW))).message).toBe("this invitation was revoked; ask for a new one");
    expect(findUserByEmail(db, "frank@example.com")).toBeNull();
    const known = createInvitation(db, alice, { email: "charlie@example.com", role: "member" }, NOW);
    expect((await rejected(Conflict, acceptInvitationAsNewUser(db, known.token, { password: "charlie-password" }, NOW))).message).toBe(
      "charlie@example.com already has an account: sign in to accept the invitation",
    );
    expect(describeInvitation(db, known.token, NOW)?.state).toBe("pending");
  });
});

describe("another tenant", () => {
  test("cannot see or revoke acme's invitations", () => {
    const inv = createInvitation(db, alice, { email: "secret-hire@example.com", role: "admin" }, NOW);
    expect(pendingEmails(charlie)).not.toContain("secret-hire@example.com");
    expect(thrown(NotFound, () => revokeInvitation(db, charlie, inv.id, NOW)).message).toBe(`invitation ${inv.id} not found`);
    expect(pendingEmails(alice)).toContain("secret-hire@example.com");
  });
});

describe("the page at the link", () => {
  test("shows the tenant, the address, the role, the inviter and whether it can be accepted", () => {
    const inv = createInvitation(db, dave, { email: "grace@example.com", role: "viewer" }, NOW);
    expect(describeInvitation(db, inv.token, NOW + 1)).toEqual({
      tenant: { slug: "acme", name: "acme" },
      email: "grace@example.com",
      role: "viewer",
      expires_at: NOW + INVITATION_TTL_MS,
      state: "pending",
      invited_by: "Dave",
    });
  });
});

describe("limits", () => {
  test(`at most ${LIMITS.invitationsPerHour} invitations a tenant an hour, and ${LIMITS.pendingInvitations} pending`, async () => {
    const hooli = createTenant(db, { slug: "hooli" }, aliceId, NOW).id;
    const owner = await sessionCaller(db, aliceId, hooli);
    const inviteAt = (n: number, at: number) => createInvitation(db, owner, { email: `hire-${n}@example.com`, role: "viewer" }, at);
    for (let n = 0; n < LIMITS.invitationsPerHour; n++) inviteAt(n, NOW + n);
    const tooMany = thrown(TooManyRequests, () => inviteAt(999, NOW + 60_000));
    expect(tooMany.message).toBe(`at most ${LIMITS.invitationsPerHour} invitations an hour; try again later`);
    expect(tooMany.retryAfterSeconds).toBe(3540);
    for (let n = 0; n < LIMITS.invitationsPerHour; n++) inviteAt(100 + n, NOW + 3_600_000 + n);
    const full = thrown(Conflict, () => inviteAt(999, NOW + 2 * 3_600_000));
    expect(full.message).toBe(`the tenant has ${LIMITS.pendingInvitations} pending invitations, the most it may have; revoke some first`);
    // Replacing a pending one is still allowed, and acme's own limits are its own.
    expect(inviteAt(0, NOW + 2 * 3_600_000).email).toBe("hire-0@example.com");
    expect(createInvitation(db, alice, { email: "hire-999@example.com", role: "viewer" }, NOW + 2 * 3_600_000).email).toBe("hire-999@example.com");
  });
});

describe("mailing the link", () => {
  let smtp: SmtpServer;
  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(() => smtp.stop());
  const lines: string[] = [];
  const deps = (smtpUrl: string | null) => ({
    db,
    config: { baseUrl: "https://cron.example.com", smtpUrl, smtpFrom: "Crontopus <crontopus@example.com>", allowPrivateTargets: true },
    log: createLogger("warn", (l) => lines.push(l)),
  });

  test("sends one plain message with the absolute link, to registered and unknown addresses alike", async () => {
    for (const email of ["bob@example.com", "heidi@example.com"]) {
      const { invitation, mailed } = invite(deps(smtp.url), alice, { email, role: "member" }, NOW);
      expect(await mailed).toMatchObject({ ok: true, code: 250 });
      const mail = await smtp.next();
      const url = invitationUrl("https://cron.example.com", invitation.token);
      expect(url).toBe(`https://cron.example.com/invitations/${invitation.token}`);
      expect(mail).toMatchObject({ from: "crontopus@example.com", to: [email], subject: "You are invited to acme on Crontopus", event: "invitation" });
      expect(mail.body.replace(/\r\n/g, "\n")).toBe(
        [
          "Alice (alice@example.com) invited you to join acme on Crontopus, with the role member.",
          "",
          "Accept the invitation here (sign in first, or create your account with this address):",
          url,
          "",
          "The link works once, until 2026-11-27 12:00 UTC. If you did not expect this invitation, ignore this message.",
          "",
        ].join("\n"),
      );
    }
  });

  test("without SMTP nothing is sent, and the invitation stands", async () => {
    const { invitation, mailed } = invite(deps(null), alice, { email: "ivan@example.com", role: "member" }, NOW);
    expect(await mailed).toBeNull();
    expect(pendingEmails(alice)).toContain(invitation.email);
  });

  test("a relay that does not answer is logged; the invitation stands", async () => {
    const { invitation, mailed } = invite(deps("smtp://127.0.0.1:1"), alice, { email: "judy@example.com", role: "member" }, NOW);
    expect((await mailed)?.ok).toBe(false);
    expect(lines.some((l) => l.includes("invitation not mailed") && l.includes(invitation.id))).toBe(true);
    expect(pendingEmails(alice)).toContain("judy@example.com");
  });
});
