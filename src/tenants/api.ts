import { t } from "elysia";
import { responses } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { createTenantFor, getTenantSettings, listTenantsFor, rotateTenantKey, updateTenantSettings } from "./tenants";
import { addMember, listMembers, removeMember, updateMember, ROLES } from "./members";
import { requireScope, requireUser } from "../auth/principal";
import { memberJson, myTenantJson, settingsJson, tenantJson } from "./json";

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
      async ({ principal, body, set }) => {
        const p = requireScope(principal, "admin");
        set.status = 201;
        return memberJson(await addMember(ctx.db, p.tenantId, p.role, body, ctx.now()));
      },
      {
        body: t.Object({
          email: t.String({ minLength: 3 }),
          role,
          name: t.Optional(t.String()),
          password: t.Optional(t.String()),
        }),
        detail: { summary: "Add a user to the active tenant (creates the user when a password is given)", responses: responses(201, "The member", MemberSchema, [409]) },
      },
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
