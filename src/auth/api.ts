import { t, type TSchema } from "elysia";
import { OkSchema, responses } from "../openapi";
import type { AppContext } from "../context";
import { apiGroup } from "../http";
import { clientIp } from "../clientip";
import { createApiTokenFor, listApiTokens, revokeApiTokenFor } from "./apitokens";
import { createdTokenJson, loginJson, meJson, tokenJson } from "./json";
import { login, logout, switchTenant } from "./login";
import { requireScope, requireUser } from "./principal";

const orNull = <T extends TSchema>(s: T) => t.Union([s, t.Null()]);
const Time = t.String({ format: "date-time" });
const UserSchema = t.Object({ id: t.String(), email: t.String(), name: t.String(), is_operator: t.Boolean() });
const MeSchema = t.Object({
  user: UserSchema,
  tenant: orNull(t.Object({ slug: t.String(), name: t.String() })),
  role: orNull(t.String()),
  scopes: t.Array(t.String()),
  auth: t.String({ description: "token or session" }),
  token: t.Optional(t.Object({ id: t.String() })),
});
const LoginSchema = t.Object({ user: UserSchema, tenants: t.Array(t.Object({ slug: t.String(), name: t.String(), role: t.String() })) });
const TokenSchema = t.Object({
  id: t.String(),
  name: t.String(),
  prefix: t.String(),
  scopes: t.Array(t.String()),
  user_id: t.String(),
  expires_at: orNull(Time),
  last_used_at: orNull(Time),
  created_at: Time,
});

const tokenBody = t.Object({
  name: t.String({ minLength: 1, maxLength: 100 }),
  scopes: t.Optional(t.Array(t.Union([t.Literal("read"), t.Literal("write"), t.Literal("admin")]))),
  expires_in_days: t.Optional(t.Integer({ minimum: 1, maximum: 3650 })),
});

export function authApi(ctx: AppContext) {
  return apiGroup(ctx, "", "auth")
    .post(
      "/auth/login",
      async ({ body, request, server, set }) => {
        const address = clientIp(server, request, ctx.config.trustProxy);
        const { user, tenants, cookie } = await login(ctx, { email: body.email, password: body.password, address }, ctx.now());
        set.headers["set-cookie"] = cookie;
        return loginJson(user, tenants);
      },
      {
        body: t.Object({ email: t.String({ minLength: 1 }), password: t.String({ minLength: 1 }) }),
        detail: { summary: "Log in with email and password; sets the session cookie", security: [], responses: responses(200, "Logged in; Set-Cookie holds the session", LoginSchema, [429]) },
      },
    )
    .post(
      "/auth/logout",
      async ({ principal, set }) => {
        const { cookie } = await logout(ctx, requireUser(principal));
        if (cookie) set.headers["set-cookie"] = cookie;
        return { ok: true };
      },
      { detail: { summary: "End the session, or revoke the token used for this call", responses: responses(200, "Logged out", OkSchema) } },
    )
    .get("/me", ({ principal }) => meJson(requireUser(principal)), {
      detail: { summary: "Who am I: user, active tenant, role and scopes", responses: responses(200, "You", MeSchema) },
    })
    .post(
      "/auth/switch-tenant",
      async ({ principal, body }) => meJson(await switchTenant(ctx, requireUser(principal), body.tenant)),
      { body: t.Object({ tenant: t.String({ minLength: 1 }) }), detail: { summary: "Make another of your tenants the active one", responses: responses(200, "You, in that tenant", MeSchema, [400]) } },
    )
    .get(
      "/tokens",
      ({ principal }) => {
        const p = requireScope(principal, "read");
        return { tokens: listApiTokens(ctx.db, p.tenantId, p.userId).map(tokenJson) };
      },
      { detail: { summary: "Your API tokens in the active tenant (secrets are never shown again)", responses: responses(200, "Your tokens", t.Object({ tokens: t.Array(TokenSchema) })) } },
    )
    .post(
      "/tokens",
      ({ principal, body, set }) => {
        const created = createApiTokenFor(ctx.db, requireScope(principal, "read"), body, ctx.now());
        set.status = 201;
        return createdTokenJson(created);
      },
      { body: tokenBody, detail: { summary: "Create an API token; the secret is in the answer only", responses: responses(201, "The token, with its secret", t.Composite([TokenSchema, t.Object({ token: t.String() })])) } },
    )
    .delete(
      "/tokens/:id",
      ({ principal, params, set }) => {
        revokeApiTokenFor(ctx.db, requireScope(principal, "read"), params.id);
        set.status = 204;
      },
      { params: t.Object({ id: t.String() }), detail: { summary: "Revoke one of your API tokens", responses: responses(204, "Revoked", null) } },
    );
}

