// The console's sign-in pages: first-run setup, login, logout, password change, tenant switch.
// Each parses the form, calls one service (login.ts, setup.ts) and renders or redirects.
import { Elysia } from "elysia";
import type { AppContext } from "../context";
import { clientIp } from "../clientip";
import { TooManyRequests, Unauthorized } from "../errors";
import { changePassword, login, logout, switchTenant } from "./login";
import { addCookie, consoleGroup, field, fieldErrors, flash, page, safeNext, hxRedirect } from "../console/surface";
import { LoginPage, PasswordPage, SetupClosedPage, SetupPage, type SetupForm } from "../../views/auth";
import { sectionOf } from "../../views/shell";

export function authConsole(ctx: AppContext) {
  const signIn = consoleGroup(ctx, "public")
    .get("/login", ({ query, shell }) => page(LoginPage({ shell, form: { email: "", next: safeNext(query.next), errors: {} } })))
    .post("/login", async ({ body, request, server, shell, set }) => {
      const email = field(body, "email").trim();
      const password = field(body, "password");
      const next = safeNext(field(body, "next"));
      const again = (status: number, errors: Record<string, string>, alert?: string) => page(LoginPage({ shell, form: { email, next, errors, alert } }), status);
      const missing = { ...(email ? {} : { email: "Enter your email address." }), ...(password ? {} : { password: "Enter your password." }) };
      if (!email || !password) return again(422, missing);
      try {
        const { cookie } = await login(ctx, { email, password, address: clientIp(server, request, ctx.config.trustProxy) }, ctx.now());
        addCookie(set, cookie);
        return hxRedirect(request, next);
      } catch (e) {
        // The same words for an unknown e-mail and a wrong password, next to the password.
        if (e instanceof Unauthorized) return again(401, { password: "Invalid email or password." });
        if (e instanceof TooManyRequests) return again(429, {}, "Too many sign-in attempts. Wait a few minutes and try again.");
        throw e;
      }
    })
    .post("/logout", async ({ body, request, viewer, set }) => {
      if (viewer) {
        const { cookie } = await logout(ctx, viewer);
        if (cookie) addCookie(set, cookie);
        flash(ctx, set, { kind: "info", text: "You are signed out." });
      }
      // A page may ask to be shown again signed out (an invitation's, to sign in as its address).
      const next = field(body, "next");
      return hxRedirect(request, next ? safeNext(next) : "/login");
    })
    .get("/setup", ({ query, shell }) => {
      const token = typeof query.token === "string" ? query.token : "";
      if (!ctx.firstRun.admits(ctx.db, token)) return page(SetupClosedPage({ shell }), 404);
      return page(SetupPage({ shell, form: { token, name: "", email: "", tenant: "", tenantName: "", errors: {} } }));
    })
    .post("/setup", async ({ body, request, server, shell, set }) => {
      const form: SetupForm = {
        token: field(body, "token"),
        name: field(body, "name").trim(),
        email: field(body, "email").trim(),
        tenant: field(body, "tenant").trim(),
        tenantName: field(body, "tenant_name").trim(),
        errors: {},
      };
      const password = field(body, "password");
      if (!ctx.firstRun.admits(ctx.db, form.token)) return page(SetupClosedPage({ shell }), 404);
      try {
        const { tenant } = await ctx.firstRun.complete(ctx.db, { ...form, password }, ctx.now());
        const { cookie } = await login(ctx, { email: form.email, password, address: clientIp(server, request, ctx.config.trustProxy) }, ctx.now());
        addCookie(set, cookie);
        flash(ctx, set, { kind: "ok", text: `Welcome. You own ${tenant.name}; sign in with ${form.email} from now on.` });
        return hxRedirect(request, "/");
      } catch (e) {
        const errors = fieldErrors(e, { tenant_name: "tenant_name" });
        if (errors) return page(SetupPage({ shell, form: { ...form, errors } }), 422);
        if (!ctx.firstRun.admits(ctx.db, form.token)) return page(SetupClosedPage({ shell }), 409);
        throw e;
      }
    });

  const account = consoleGroup(ctx, "user")
    .get("/account/password", ({ shell }) => page(PasswordPage({ shell, form: { errors: {} } })))
    .post("/account/password", async ({ body, request, viewer, shell, set }) => {
      const current = field(body, "current");
      const password = field(body, "password");
      const again = (status: number, errors: Record<string, string>, alert?: string) => page(PasswordPage({ shell, form: { errors, alert } }), status);
      if (!current) return again(422, { current: "Enter your current password." });
      if (password !== field(body, "confirm")) return again(422, { confirm: "The two new passwords differ." });
      try {
        await changePassword(ctx, viewer!, { current, password }, ctx.now());
      } catch (e) {
        const errors = fieldErrors(e);
        if (errors) return again(422, errors);
        if (e instanceof TooManyRequests) return again(429, {}, "Too many attempts. Wait a few minutes and try again.");
        throw e;
      }
      flash(ctx, set, { kind: "ok", text: "Password changed. Your other sessions are signed out." });
      return hxRedirect(request, "/account/password");
    })
    .post("/switch-tenant", async ({ body, request, viewer, set }) => {
      const now = await switchTenant(ctx, viewer!, field(body, "tenant"));
      flash(ctx, set, { kind: "info", text: `Now in ${now.tenantName ?? now.tenantSlug}.` });
      // The same section in the other tenant: the object open before (a job) is not there.
      return hxRedirect(request, sectionOf(safeNext(field(body, "next"))) ?? "/");
    });

  return new Elysia().use(signIn).use(account);
}
