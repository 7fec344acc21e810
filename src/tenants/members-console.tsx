// The console's members pages: the tenant's members and invitations (/settings/members: invite,
// change a role, remove, revoke; owners and admins only, by the same services and rules as the
// API), and the page an invitation's link opens (/invitations/<token>), public, where the invited
// person accepts signed in or creates their account.
import { Elysia } from "elysia";
import type { AppContext } from "../context";
import { Conflict, Forbidden, NotFound, TooManyRequests } from "../errors";
import { LIMITS } from "../limits";
import { normalizeEmail } from "../auth/identity";
import { requireScope, type Principal } from "../auth/principal";
import { switchTenant } from "../auth/login";
import { addCookie, consoleGroup, field, fieldErrors, flash, hxRedirect, page } from "../console/surface";
import { grantableRoles, listMembers, memberChanges, removeMember, updateMember, type Role } from "./members";
import { acceptInvitation, acceptInvitationAsNewUser, AlreadyMember, describeInvitation, invitationUrl, invite, listInvitations, revokeInvitation } from "./invitations";
import { EMPTY_INVITE, MembersPage, type InviteForm, type MembersView } from "../../views/members";
import { InvitationGonePage, InvitationPage, invitationPath, type InvitationView, type SignUpForm } from "../../views/invitation";
import type { Shell } from "../../views/shell";

const MEMBERS = "/settings/members";

/** A service's message as a sentence. */
const sentence = (e: Error) => `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}.`;

/** "an admin", "a member". */
const aRole = (role: Role) => `${role === "admin" || role === "owner" ? "an" : "a"} ${role}`;

/** Everything the members page shows the viewer: the members, and for an admin what they may change and the pending invitations. */
function membersView(ctx: AppContext, viewer: Principal): MembersView {
  const now = ctx.now();
  const canAdmin = viewer.scopes.includes("admin");
  const members = listMembers(ctx.db, requireScope(viewer, "read").tenantId);
  const owners = members.filter((m) => m.role === "owner").length;
  return {
    tenant: { slug: viewer.tenantSlug!, name: viewer.tenantName ?? viewer.tenantSlug! },
    members: members.map((member) => ({ member, you: member.user_id === viewer.userId, changes: canAdmin ? memberChanges(viewer.role!, member.role, owners) : null })),
    canAdmin,
    invitations: canAdmin ? listInvitations(ctx.db, viewer, now) : [],
    inviteRoles: canAdmin ? grantableRoles(viewer.role!) : [],
    smtp: !!ctx.config.smtpUrl,
    now,
  };
}

/** An invitation form's refusal, next to its field or above the form; null for an error the page does not show. */
function inviteErrors(e: unknown): { status: number; form: Pick<InviteForm, "errors" | "alert">; retryAfter?: number } | null {
  if (e instanceof AlreadyMember) return { status: 409, form: { errors: { email: `${e.email} is a member already.` } } };
  const errors = fieldErrors(e);
  if (errors) return { status: 422, form: { errors } };
  if (e instanceof TooManyRequests) {
    const minutes = Math.max(1, Math.ceil(e.retryAfterSeconds / 60));
    return { status: 429, retryAfter: e.retryAfterSeconds, form: { errors: {}, alert: `Too many invitations: at most ${LIMITS.invitationsPerHour} an hour. Try again in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.` } };
  }
  // The pending limit: the form as a whole.
  if (e instanceof Conflict) return { status: 409, form: { errors: {}, alert: sentence(e) } };
  return null;
}

export function membersConsole(ctx: AppContext) {
  const { db } = ctx;

  const members = consoleGroup(ctx, "tenant")
    .get(MEMBERS, ({ viewer, shell }) => page(MembersPage({ shell, view: membersView(ctx, viewer!) })))
    .post(MEMBERS, async ({ body, viewer, shell }) => {
      const form: InviteForm = { email: field(body, "email").trim(), role: field(body, "role"), errors: {} };
      try {
        const { invitation } = invite(ctx, viewer, form, ctx.now());
        const invited = { email: invitation.email, role: invitation.role, expires_at: invitation.expires_at, url: invitationUrl(ctx.config.baseUrl, invitation.token), mailed: !!ctx.config.smtpUrl };
        return page(MembersPage({ shell, view: membersView(ctx, viewer!), form: EMPTY_INVITE, invited }));
      } catch (e) {
        const shown = inviteErrors(e);
        if (!shown) throw e;
        const answer = await page(MembersPage({ shell, view: membersView(ctx, viewer!), form: { ...form, ...shown.form } }), shown.status);
        if (shown.retryAfter) answer.headers.set("retry-after", String(shown.retryAfter));
        return answer;
      }
    })
    .post(`${MEMBERS}/:userId/role`, ({ params, body, request, viewer, set }) => {
      const p = requireScope(viewer, "admin");
      const member = updateMember(db, p.tenantId, p.role, params.userId, field(body, "role"));
      flash(ctx, set, { kind: "ok", text: `${member.email} is now ${aRole(member.role)}.` });
      return hxRedirect(request, MEMBERS);
    })
    .post(`${MEMBERS}/:userId/remove`, ({ params, request, viewer, set }) => {
      const p = requireScope(viewer, "admin");
      const member = removeMember(db, p.tenantId, p.role, params.userId);
      const you = member.user_id === p.userId;
      flash(ctx, set, { kind: "ok", text: you ? `You left ${p.tenantName}.` : `Removed ${member.email} from ${p.tenantName}.` });
      return hxRedirect(request, you ? "/" : MEMBERS);
    })
    .post(`${MEMBERS}/invitations/:id/revoke`, ({ params, request, viewer, set }) => {
      const invitation = revokeInvitation(db, viewer, params.id, ctx.now());
      flash(ctx, set, { kind: "ok", text: `Revoked the invitation of ${invitation.email}: its link no longer works.` });
      return hxRedirect(request, MEMBERS);
    });

  // The link's page. Whoever holds the link sees what it is; a link that does not work gets one
  // page, whatever the reason, so that nothing can be learnt about tokens by trying them.
  const gone = (shell: Shell) => page(InvitationGonePage({ shell }), 404);
  const pendingOf = (token: string) => {
    const invitation = describeInvitation(db, token, ctx.now());
    return invitation?.state === "pending" ? invitation : null;
  };
  const invitationPage = (shell: Shell, viewer: Principal | null, token: string, over: { signUp?: SignUpForm; alert?: string; status?: number } = {}) => {
    const invitation = pendingOf(token);
    if (!invitation) return gone(shell);
    const visitor: InvitationView["visitor"] = !viewer ? { kind: "signed-out" } : normalizeEmail(viewer.email) === invitation.email ? { kind: "invited" } : { kind: "other", email: viewer.email };
    const view: InvitationView = { token, invitation, visitor, signUp: over.signUp ?? { name: "", errors: {} }, alert: over.alert, now: ctx.now() };
    return page(InvitationPage({ shell, view }), over.status ?? 200);
  };

  const invitations = consoleGroup(ctx, "public")
    .get("/invitations/:token", ({ params, viewer, shell }) => invitationPage(shell, viewer, params.token))
    .post("/invitations/:token/accept", async ({ params, request, viewer, shell, set }) => {
      // Signed out (the session ended since the page was shown): the page offers both ways in.
      if (!viewer) return hxRedirect(request, invitationPath(params.token));
      try {
        const { tenant, member } = acceptInvitation(db, viewer, params.token, ctx.now());
        await switchTenant(ctx, viewer, tenant.slug);
        flash(ctx, set, { kind: "ok", text: `Welcome to ${tenant.name}: you joined it as ${aRole(member.role)}.` });
        return hxRedirect(request, "/");
      } catch (e) {
        if (e instanceof NotFound) return gone(shell);
        // Another user's invitation: the page says whose, and how to sign in as them.
        if (e instanceof Forbidden) return invitationPage(shell, viewer, params.token, { status: 403 });
        // Used, revoked or expired meanwhile: the page for a link that does not work; a membership
        // that exists already: said above the button.
        if (e instanceof Conflict) return invitationPage(shell, viewer, params.token, { alert: sentence(e), status: 409 });
        throw e;
      }
    })
    .post("/invitations/:token/sign-up", async ({ params, body, request, viewer, shell, set }) => {
      if (viewer) return hxRedirect(request, invitationPath(params.token));
      const signUp: SignUpForm = { name: field(body, "name").trim(), errors: {} };
      const password = field(body, "password");
      if (!pendingOf(params.token)) return gone(shell);
      if (password !== field(body, "confirm")) return invitationPage(shell, null, params.token, { signUp: { ...signUp, errors: { confirm: "The two passwords differ." } }, status: 422 });
      try {
        const { user, tenant, member } = await acceptInvitationAsNewUser(db, params.token, { password, name: signUp.name }, ctx.now());
        const { cookie } = await ctx.sessions.create(user.id, tenant.id);
        addCookie(set, cookie);
        flash(ctx, set, { kind: "ok", text: `Welcome to ${tenant.name}: you joined it as ${aRole(member.role)}. Sign in with ${user.email} from now on.` });
        return hxRedirect(request, "/");
      } catch (e) {
        const errors = fieldErrors(e);
        if (errors) return invitationPage(shell, null, params.token, { signUp: { ...signUp, errors }, status: 422 });
        if (e instanceof NotFound) return gone(shell);
        // The address has an account (sign in instead), or the link died meanwhile.
        if (e instanceof Conflict) return invitationPage(shell, null, params.token, { alert: sentence(e), status: 409 });
        throw e;
      }
    });

  return new Elysia().use(members).use(invitations);
}
