import { t } from "elysia";
import { responses } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { createTenantFor, getTenantSettings, listTenantsFor, rotateTenantKey, updateTenantSettings } from "./tenants";
import { listMembers, removeMember, updateMember, ROLES } from "./members";
import { acceptInvitation, invite, listInvitations, revokeInvitation } from "./invitations";
import { requireScope, requireUser } from "../auth/principal";
import { Invalid } from "../errors";
import { acceptedInvitationJson, createdInvitationJson, invitationJson, memberJson, myTenantJson, settingsJson, tenantJson } from "./json";

const role = t.Union(ROLES.map((r) => t.Literal(r)));

const Time = t.String({ format: "date-time" });
const byUser = t.Object({ userId: t.String() });
const MyTenantSchema = t.Object({ slug: t.String(), name: t.String(), role: t.String(), current: t.Boolean() });
const NewTenantSchema = t.Object({ slug: t.String(), name: t.String(), role: t.String(), created_at: Time });
const SettingsSchema = t.Object({
  slug: t.String(),
  name: t.String(),
  ping_key: t.String(),
  badge_key: t.String(),
  auto_provision: t.Boolean(),
  retention_days: t.Integer(),
  retention_runs: t.Integer(),
  created_at: Time,
});
const MemberSchema = t.Object({ user_id: t.String(), email: t.String(), name: t.String(), role: t.String(), created_at: Time });
const byId = t.Object({ id: t.String() });
const InviteBody = t.Object({ email: t.String({ description: "The address to invite (254 characters at most)" }), role });
const InvitationSchema = t.Object({ id: t.String(), email: t.String(), role: t.String(), created_at: Time, expires_at: Time });
const NewInvitationSchema = t.Object({
  id: t.String(),
  email: t.String(),
  role: t.String(),
  expires_at: Time,
  url: t.String({ description: "The one-time link (shown only here): the invited person opens it, or POSTs to /api/v1/invitations/{token}/accept" }),
});
const AcceptedSchema = t.Object({ tenant: t.Object({ slug: t.String(), name: t.String() }), member: MemberSchema });

export function tenantsApi(ctx: AppContext) {
  return apiGroup(ctx, "/tenants", "tenants")
    .get(
      "",
      ({ principal }) => {
        const p = requireUser(principal);
        return { tenants: listTenantsFor(ctx.db, p).map((m) => myTenantJson(m, p.tenantId)) };
      },
      { detail: { summary: "Tenants you belong to, with your role", responses: responses(200, "Your tenants", t.Object({ tenants: t.Array(MyTenantSchema) })) } },
    )
    .post(
      "",
      ({ principal, body, set }) => {
        const tenant = createTenantFor(ctx.db, requireUser(principal), body, ctx.now());
        set.status = 201;
        return tenantJson(tenant);
      },
      {
        body: t.Object({ slug: t.String({ minLength: 1, maxLength: 63 }), name: t.Optional(t.String({ maxLength: 200 })) }),
        detail: { summary: "Create a tenant; you become its owner", responses: responses(201, "The tenant", NewTenantSchema, [409]) },
      },
    )
    .get("/current", ({ principal }) => settingsJson(getTenantSettings(ctx.db, requireScope(principal, "read").tenantId)), {
      detail: { summary: "The active tenant's settings: ping key, badge key, auto-provisioning, retention", responses: responses(200, "The settings", SettingsSchema) },
    })
    .patch(
      "/current",
      ({ principal, body }) => {
        const settings = updateTenantSettings(ctx.db, requireScope(principal, "admin").tenantId, body);
        if (body.retention_days !== undefined || body.retention_runs !== undefined) ctx.pruneSoon();
        return settingsJson(settings);
      },
      {
        body: t.Object({
          name: t.Optional(t.String({ maxLength: 200 })),
          auto_provision: t.Optional(t.Boolean()),
          retention_days: t.Optional(t.Integer()),
          retention_runs: t.Optional(t.Integer()),
        }),
        detail: { summary: "Change the active tenant's settings", responses: responses(200, "The settings", SettingsSchema) },
      },
    )
    .post(
      "/current/rotate-key",
      ({ principal, body }) => settingsJson(rotateTenantKey(ctx.db, requireScope(principal, "admin").tenantId, body.key)),
      {
        body: t.Object({ key: t.Union([t.Literal("ping_key"), t.Literal("badge_key")]) }),
        detail: { summary: "Replace the ping key or the badge key (old URLs stop working)", responses: responses(200, "The settings, with the new key", SettingsSchema) },
      },
    )
    .get(
      "/current/members",
      ({ principal }) => ({ members: listMembers(ctx.db, requireScope(principal, "read").tenantId).map(memberJson) }),
      { detail: { summary: "Members of the active tenant", responses: responses(200, "The members", t.Object({ members: t.Array(MemberSchema) })) } },
    )
    .post(
      "/current/members",
      ({ principal, body, set }) => {
        // This route once made the user from a password; the invited person now chooses their own.
        if (body.password !== undefined) throw new Invalid("password", "is no longer taken: the invited person sets their own when accepting the invitation");
        const { invitation } = invite(ctx, principal, body, ctx.now());
        set.status = 202;
        return createdInvitationJson(invitation, ctx.config.baseUrl);
      },
      {
        body: t.Object({ email: InviteBody.properties.email, role, password: t.Optional(t.String({ description: "No longer taken (422)" })) }),
        detail: {
          summary: "Invite a person by e-mail (as POST /tenants/current/invitations does); they become a member once they accept",
          responses: responses(202, "The invitation, the same whether the address has an account or not", NewInvitationSchema, [409, 429]),
        },
      },
    )
    .get(
      "/current/invitations",
      ({ principal }) => ({ invitations: listInvitations(ctx.db, principal, ctx.now()).map(invitationJson) }),
      { detail: { summary: "Pending invitations of the active tenant (never their links)", responses: responses(200, "The invitations, newest first", t.Object({ invitations: t.Array(InvitationSchema) })) } },
    )
    .post(
      "/current/invitations",
      ({ principal, body, set }) => {
        const { invitation } = invite(ctx, principal, body, ctx.now());
        set.status = 201;
        return createdInvitationJson(invitation, ctx.config.baseUrl);
      },
      {
        body: InviteBody,
        detail: {
          summary: "Invite a person by e-mail with a role: a one-time link, valid 7 days, also mailed when SMTP is set",
          responses: responses(201, "The invitation and its link, shown once; the same whether the address has an account or not", NewInvitationSchema, [409, 429]),
        },
      },
    )
    .delete(
      "/current/invitations/:id",
      ({ principal, params, set }) => {
        revokeInvitation(ctx.db, principal, params.id, ctx.now());
        set.status = 204;
      },
      { params: byId, detail: { summary: "Revoke a pending invitation: its link stops working", responses: responses(204, "Revoked", null) } },
    )
    .patch(
      "/current/members/:userId",
      ({ principal, params, body }) => {
        const p = requireScope(principal, "admin");
        return memberJson(updateMember(ctx.db, p.tenantId, p.role, params.userId, body.role));
      },
      { params: byUser, body: t.Object({ role }), detail: { summary: "Change a member's role", responses: responses(200, "The member", MemberSchema) } },
    )
    .delete(
      "/current/members/:userId",
      ({ principal, params, set }) => {
        const p = requireScope(principal, "admin");
        removeMember(ctx.db, p.tenantId, p.role, params.userId);
        set.status = 204;
      },
      { params: byUser, detail: { summary: "Remove a member (the last owner cannot be removed)", responses: responses(204, "Removed", null, [409]) } },
    );
}

/** What the invited person calls: POST /api/v1/invitations/{token}/accept. */
export function invitationsApi(ctx: AppContext) {
  return apiGroup(ctx, "/invitations", "tenants").post(
    "/:token/accept",
    ({ principal, params }) => acceptedInvitationJson(acceptInvitation(ctx.db, principal, params.token, ctx.now())),
    {
      params: t.Object({ token: t.String() }),
      detail: {
        summary: "Accept an invitation as the user of the invited address: you become a member with its role; the link is used up",
        responses: responses(200, "The tenant you joined and your membership", AcceptedSchema, [409]),
      },
    },
  );
}
