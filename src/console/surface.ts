// The console's plumbing, what src/http.ts is to the API: every console route group resolves the
// viewer from the session cookie, refuses state changes without the CSRF token or from another
// origin, sends signed-out visitors to /login?next=…, and answers HTML with the console's
// Content-Security-Policy. Feature surfaces (src/<feature>/console.tsx) build on consoleGroup.
import { Elysia } from "elysia";
import type { AppContext } from "../context";
import { checkSameOrigin, readCookie } from "../auth/authenticate";
import type { Principal } from "../auth/principal";
import { listTenantsFor } from "../tenants/tenants";
import { AppError, StorageUnavailable, TooManyRequests, type ErrorCode } from "../errors";
import { storageFault } from "../db";
import { logUnhandled } from "../http";
import { CSRF_FIELD, CSRF_HEADER, csrfMatches, csrfToken, PRESESSION_COOKIE, presessionCookie } from "./csrf";
import { clearFlashCookie, FLASH_COOKIE, flashCookie, readFlash, type Flash } from "./flash";
import type { Shell } from "../../views/shell";
import { ErrorPage, NoTenantPage } from "../../views/errors";

/**
 * Console pages run only the console's own script and styles: no inline script or style, no
 * eval, nothing from another host; forms post only here; no page may frame them.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Console pages send the Referer to this server only. Under the site-wide no-referrer a browser
 * sends `Origin: null` with a form's POST, which the origin check must refuse; other hosts still
 * learn nothing (a job page shows ping URLs, which carry keys).
 */
const CONSOLE_REFERRER_POLICY = "same-origin";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Who may reach a group's routes: anyone, a signed-in user, or a user acting in a tenant. */
export type Access = "public" | "user" | "tenant";

/** What a console handler receives about the request's viewer. */
export type ConsoleRequest = {
  viewer: Principal | null;
  shell: Shell;
};

type SetHeaders = Record<string, string | number | string[] | undefined>;

/** Adds a Set-Cookie to the answer, keeping those already set. */
export function addCookie(set: { headers: SetHeaders }, cookie: string): void {
  const have = set.headers["set-cookie"];
  set.headers["set-cookie"] = have === undefined ? [cookie] : [...(Array.isArray(have) ? have : [String(have)]), cookie];
}

/** Shows `flash` on the page the answer leads to. */
export function flash(ctx: AppContext, set: { headers: SetHeaders }, f: Flash): void {
  addCookie(set, flashCookie(f, secureCookies(ctx)));
}

const secureCookies = (ctx: AppContext) => ctx.config.baseUrl.startsWith("https:");

/** An HTML answer, with the console's CSP (also on error pages answered before a group's hooks ran). */
export async function page(html: JSX.Element, status = 200): Promise<Response> {
  return new Response(await html, {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": CONSOLE_CSP, "cache-control": "no-store", "referrer-policy": CONSOLE_REFERRER_POLICY },
  });
}

/** After a form: 303 to `to`, or for an htmx request HX-Location (htmx follows it without a full reload). */
export function hxRedirect(request: Request, to: string): Response {
  if (request.headers.get("hx-request") === "true") return new Response(null, { status: 200, headers: { "hx-location": to } });
  return new Response(null, { status: 303, headers: { location: to } });
}

/** Where a signed-out visitor is sent: the login form, which comes back to the page asked for. */
export function loginRedirect(request: Request): Response {
  const url = new URL(request.url);
  const htmx = request.headers.get("hx-request") === "true";
  // An htmx request (a live part, a filter) asks for a fragment: after the login the browser goes
  // back to the page it was on (HX-Current-URL, when it is this server's), never to the fragment.
  const next = htmx ? pageOf(request.headers.get("hx-current-url"), url.origin) : url.pathname + url.search;
  const to = next === "/" ? "/login" : `/login?next=${encodeURIComponent(next)}`;
  // An htmx request must reload the whole page to reach the form.
  if (htmx) return new Response(null, { status: 200, headers: { "hx-redirect": to } });
  return new Response(null, { status: 303, headers: { location: to } });
}

/** The path and query of the page an htmx request came from; "/" when unknown or another origin's. */
function pageOf(currentUrl: string | null, origin: string): string {
  if (!currentUrl) return "/";
  try {
    const u = new URL(currentUrl);
    return u.origin === origin ? u.pathname + u.search : "/";
  } catch {
    return "/";
  }
}

/**
 * The page to go to after signing in: a path on this server, never another site (`//evil`,
 * `/\evil`, `https://…`) and never the sign-in pages themselves; "/" otherwise.
 */
export function safeNext(raw: unknown): string {
  if (typeof raw !== "string" || raw.length > 2000 || !raw.startsWith("/")) return "/";
  if (raw.startsWith("//") || raw.startsWith("/\\") || /[\u0000-\u001f\u007f]/.test(raw)) return "/";
  const path = raw.split(/[?#]/)[0]!;
  if (path === "/login" || path === "/logout" || path === "/setup") return "/";
  return raw;
}

/** A form field as one string ("" when absent; the first of repeated values). */
export function field(body: unknown, name: string): string {
  if (!body || typeof body !== "object") return "";
  const v = (body as Record<string, unknown>)[name];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === "string" ? first : "";
}

/** The errors of a domain error by field, for a form; null when the error is not about fields. */
export function fieldErrors(e: unknown, fields: Record<string, string> = {}): Record<string, string> | null {
  if (!(e instanceof AppError) || e.code !== "validation_failed" || !e.details?.length) return null;
  const out: Record<string, string> = {};
  for (const d of e.details) out[fields[d.field] ?? d.field] ??= sentence(d.message);
  return out;
}

const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");

/** The console's words for each kind of error. */
const ERROR_PAGES: Record<ErrorCode, { status: number; title: string }> = {
  bad_request: { status: 400, title: "Bad request" },
  unauthorized: { status: 401, title: "Sign in first" },
  forbidden: { status: 403, title: "Not allowed" },
  not_found: { status: 404, title: "Not found" },
  conflict: { status: 409, title: "Conflict" },
  unsupported_media_type: { status: 415, title: "Not readable" },
  validation_failed: { status: 422, title: "Not valid" },
  rate_limited: { status: 429, title: "Too many attempts" },
  storage_unavailable: { status: 503, title: "Not stored" },
  managed_by_git: { status: 409, title: "Managed by Git" },
  write_back_conflict: { status: 409, title: "Changed in Git meanwhile" },
  write_back_refused: { status: 409, title: "Not written to Git" },
  write_back_failed: { status: 502, title: "Not pushed to Git" },
};

function errorPage(status: number, title: string, message: string, headers: Record<string, string> = {}): Promise<Response> {
  return page(ErrorPage({ status, title, message }), status).then((r) => {
    for (const [k, v] of Object.entries(headers)) r.headers.set(k, v);
    return r;
  });
}

/** Any error thrown on a console route, as a page (the console's counterpart of renderApiError). */
async function renderConsoleError(ctx: AppContext, code: string | number, error: unknown, request: Request): Promise<Response> {
  const fault = storageFault(error);
  if (fault) {
    ctx.storage.failed(fault, ctx.now());
    error = fault;
  }
  if (error instanceof AppError) {
    if (error.code === "unauthorized") return loginRedirect(request);
    const retry = error instanceof TooManyRequests || error instanceof StorageUnavailable ? { "retry-after": String(error.retryAfterSeconds) } : undefined;
    const { status, title } = ERROR_PAGES[error.code];
    return errorPage(status, title, sentence(error.message), retry);
  }
  if (code === "VALIDATION") return errorPage(422, "Not valid", "The form sent does not have the fields this page takes.");
  if (code === "PARSE") return errorPage(400, "Bad request", "The form sent could not be read.");
  const requestId = logUnhandled(ctx, request, error);
  return errorPage(500, "Something went wrong", `The server could not show this page (request id ${requestId}).`);
}

/**
 * A group of console routes. Handlers receive `viewer` (the session's principal, or null) and
 * `shell` (what the layout shows). State changes need the CSRF token (form field or header) and
 * a same-origin request; `access` says who reaches the routes at all.
 */
export function consoleGroup(ctx: AppContext, access: Access) {
  const secure = secureCookies(ctx);
  // Pages, not API operations: left out of the OpenAPI document.
  return new Elysia({ detail: { hide: true } })
    .onError(({ code, error, request }) => renderConsoleError(ctx, code, error, request))
    .resolve(async ({ request, set }): Promise<ConsoleRequest> => {
      set.headers["content-security-policy"] = CONSOLE_CSP;
      set.headers["cache-control"] = "no-store";
      set.headers["cross-origin-opener-policy"] = "same-origin";
      set.headers["referrer-policy"] = CONSOLE_REFERRER_POLICY;
      const cookies = request.headers.get("cookie");
      const sid = readCookie(cookies, ctx.sessions.cookieName);
      let viewer: Principal | null = null;
      if (sid) {
        const { principal, cookie } = await ctx.sessions.validate(sid);
        viewer = principal;
        if (cookie) addCookie(set, cookie);
      }
      // The CSRF secret: the session's, or before one exists the browser's own cookie (made here).
      let seed = viewer?.sessionId ?? readCookie(cookies, PRESESSION_COOKIE);
      if (!seed) {
        const fresh = presessionCookie(secure);
        seed = fresh.seed;
        addCookie(set, fresh.cookie);
      }
      const shown = readFlash(readCookie(cookies, FLASH_COOKIE));
      if (shown) addCookie(set, clearFlashCookie(secure));
      const url = new URL(request.url);
      const shell: Shell = {
        user: viewer ? { email: viewer.email, name: viewer.name } : null,
        tenant: viewer?.tenantSlug && viewer.role ? { slug: viewer.tenantSlug, name: viewer.tenantName ?? viewer.tenantSlug, role: viewer.role } : null,
        tenants: viewer ? listTenantsFor(ctx.db, viewer) : [],
        csrf: csrfToken(seed),
        flash: shown,
        path: url.pathname + url.search,
        liveFrom: viewer?.tenantId ? ctx.events.position() : undefined,
      };
      return { viewer, shell };
    })
    .onBeforeHandle(({ request, body, viewer, shell }) => {
      if (!SAFE_METHODS.has(request.method)) {
        checkSameOrigin(ctx, request);
        // The token of the secret the browser sent, never of one made for this answer.
        const seed = viewer?.sessionId ?? readCookie(request.headers.get("cookie"), PRESESSION_COOKIE);
        const sent = request.headers.get(CSRF_HEADER) ?? field(body, CSRF_FIELD);
        if (!csrfMatches(seed, sent)) {
          return errorPage(403, "Form expired", "This form has expired or did not come from this site. Go back, reload the page and send it again.");
        }
      }
      if (access !== "public" && !viewer) return loginRedirect(request);
      if (access === "tenant" && !viewer?.tenantId) return page(NoTenantPage({ shell }));
    });
}
