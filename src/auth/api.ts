import { t, type TSchema } from "elysia";
import { OkSchema, responses } from "../openapi";
import type { AppContext } from "../context";
import { BadRequest, Forbidden } from "../errors";
import { apiGroup } from "../http";
import { RateLimiter } from "../ratelimit";
import { clientIp } from "../clientip";
import { createApiToken, listApiTokens, revokeApiToken } from "./apitokens";
import { readCookie } from "./authenticate";
import { createdTokenJson, loginJson, meJson, tokenJson } from "./json";
import { normalizeEmail, verifyLogin } from "./identity";
import { listUserTenants } from "../tenants/members";
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
  // Per address and e-mail, then per address alone: argon2 makes every attempt cost ~0.2 s of CPU.
  const perAccount = new RateLimiter(10, 5 * 60_000, "too many login attempts; try again later");
  const perAddress = new RateLimiter(50, 5 * 60_000, "too many login attempts; try again later");

  return apiGroup(ctx, "", "auth")
    .post(
      "/auth/login",
      async ({ body, request, server, set }) => {
        const ip = clientIp(server, request, ctx.config.trustProxy);
        // One account, one key: " Alice@X.test" is alice@x.test, for the lookup and the limit alike.
        const email = normalizeEmail(body.email);
        perAddress.hit(ip, ctx.now());
        perAccount.hit(`${ip}|${email}`, ctx.now());
        const user = await verifyLogin(ctx.db, email, body.password);
        perAccount.reset(`${ip}|${email}`);
        const tenants = listUserTenants(ctx.db, user.id);
        const { cookie } = await ctx.sessions.create(user.id, tenants[0]?.tenant_id ?? null);
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
      async ({ principal, request, set }) => {
        const p = requireUser(principal);
        if (p.kind === "token") {
          revokeApiToken(ctx.db, p.tenantId!, p.userId, p.tokenId!);
        } else {
          const sid = readCookie(request.headers.get("cookie"), ctx.sessions.cookieName)!;
          set.headers["set-cookie"] = await ctx.sessions.invalidate(sid);
        }
        return { ok: true };
      },
      { detail: { summary: "End the session, or revoke the token used for this call", responses: responses(200, "Logged out", OkSchema) } },
    )
    .get("/me", ({ principal }) => meJson(requireUser(principal)), {
      detail: { summary: "Who am I: user, active tenant, role and scopes", responses: responses(200, "You", MeSchema) },
    })
    .post(
      "/auth/switch-tenant",
      async ({ principal, body }) => {
        const p = requireUser(principal);
        if (p.kind !== "session") throw new BadRequest("an API token is bound to one tenant; only a session can switch");
        await ctx.sessions.switchTenant(p.sessionId!, p.userId, body.tenant);
        const { principal: next } = await ctx.sessions.validate(p.sessionId!);
        return meJson(next!);
      },
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
        const p = requireScope(principal, "read");
        // A session may mint tokens within its role; a token needs the admin scope and cannot widen itself.
        if (p.kind === "token" && !p.scopes.includes("admin")) throw new Forbidden("this token lacks the 'admin' scope");
        const created = createApiToken(ctx.db, p.tenantId, p.userId, body, p.kind === "token" ? p.scopes : null, ctx.now());
        set.status = 201;
        return createdTokenJson(created);
      },
      { body: tokenBody, detail: { summary: "Create an API token; the secret is in the answer only", responses: responses(201, "The token, with its secret", t.Composite([TokenSchema, t.Object({ token: t.String() })])) } },
    )
    .delete(
      "/tokens/:id",
      ({ principal, params, set }) => {
        const p = requireScope(principal, "read");
        if (p.kind === "token" && !p.scopes.includes("admin") && params.id !== p.tokenId) {
          throw new Forbidden("this token lacks the 'admin' scope");
        }
        revokeApiToken(ctx.db, p.tenantId, p.userId, params.id);
        set.status = 204;
      },
      { params: t.Object({ id: t.String() }), detail: { summary: "Revoke one of your API tokens", responses: responses(204, "Revoked", null) } },
    );
}

