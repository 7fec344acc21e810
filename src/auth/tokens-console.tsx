// The signed-in user's API tokens in the console, /settings/tokens: as the API's /tokens routes,
// every member (viewers too) lists, makes and revokes their own, within the scopes their role
// allows, through the same service functions (createApiTokenFor, listApiTokens, revokeApiTokenFor).
import type { AppContext } from "../context";
import { consoleGroup, field, fieldErrors, flash, hxRedirect, page } from "../console/surface";
import { createApiTokenFor, listApiTokens, revokeApiTokenFor } from "./apitokens";
import { requireScope, roleScopes, SCOPES, type Scope, type TenantPrincipal } from "./principal";
import { TokensPage, type TokenFormValues, type TokensView } from "../../views/tokens";

/** Every value of a form field (a ticked box per scope). */
function fields(body: unknown, name: string): string[] {
  if (!body || typeof body !== "object") return [];
  const v = (body as Record<string, unknown>)[name];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string" && x !== "");
}

export function tokensConsole(ctx: AppContext) {
  const { db } = ctx;
  const view = (p: TenantPrincipal, over: Partial<TokensView> = {}): TokensView => {
    const allowed = roleScopes(p.role);
    return {
      tokens: listApiTokens(db, p.tenantId, p.userId),
      allowed,
      values: { name: "", scopes: allowed, expires_in_days: "" },
      errors: {},
      now: ctx.now(),
      baseUrl: ctx.config.baseUrl,
      ...over,
    };
  };

  return consoleGroup(ctx, "tenant")
    .get("/settings/tokens", ({ viewer, shell }) => page(TokensPage({ shell, view: view(requireScope(viewer, "read")) })))
    .post("/settings/tokens", ({ body, viewer, shell }) => {
      const p = requireScope(viewer, "read");
      const values: TokenFormValues = {
        name: field(body, "name"),
        scopes: fields(body, "scopes").filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
        expires_in_days: field(body, "expires_in_days").trim(),
      };
      const days = values.expires_in_days;
      try {
        const created = createApiTokenFor(
          db,
          p,
          // The service names what is wrong: no scope ticked, an unknown scope, a number out of range.
          { name: values.name, scopes: fields(body, "scopes"), expires_in_days: days === "" ? undefined : /^\d{1,9}$/.test(days) ? Number(days) : NaN },
          ctx.now(),
        );
        // The secret is on this answer and nowhere else: no redirect (a flash cookie would carry it).
        return page(TokensPage({ shell, view: view(p, { created }) }), 201);
      } catch (e) {
        const errors = fieldErrors(e);
        if (!errors) throw e;
        return page(TokensPage({ shell, view: view(p, { values, errors }) }), 422);
      }
    })
    .post("/settings/tokens/:id/revoke", ({ params, request, viewer, set }) => {
      const p = requireScope(viewer, "read");
      const token = listApiTokens(db, p.tenantId, p.userId).find((t) => t.id === params.id);
      revokeApiTokenFor(db, p, params.id);
      flash(ctx, set, { kind: "ok", text: `Revoked the token ${token?.name ?? params.id}: it no longer works.` });
      return hxRedirect(request, "/settings/tokens");
    });
}
