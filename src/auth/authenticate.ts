import type { AppContext } from "../context";
import { Forbidden, Unauthorized } from "../errors";
import { authenticateToken } from "./apitokens";
import type { Principal } from "./principal";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

/**
 * A cookie rides along on cross-site requests; refuse state changes a browser says came from
 * another site. (Bearer tokens are never sent by a browser on its own, so they need no check.)
 */
export function checkSameOrigin(ctx: AppContext, request: Request) {
  if (SAFE_METHODS.has(request.method)) return;
  const site = request.headers.get("sec-fetch-site");
  if (site === "cross-site") throw new Forbidden("cross-site request refused");
  const origin = request.headers.get("origin");
  if (!origin || origin === "null") {
    if (origin === "null") throw new Forbidden("cross-site request refused");
    return;
  }
  const allowed = new Set([new URL(ctx.config.baseUrl).origin, new URL(request.url).origin]);
  if (!allowed.has(origin)) throw new Forbidden("cross-site request refused");
}

export interface Authenticated {
  principal: Principal | null;
  /** A refreshed session cookie to send back, if any. */
  setCookie: string | null;
}

/** Resolves the caller from `Authorization: Bearer ctp_…` or the session cookie. */
export async function authenticate(ctx: AppContext, request: Request): Promise<Authenticated> {
  const auth = request.headers.get("authorization");
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    const principal = m ? authenticateToken(ctx.db, m[1]!, ctx.now()) : null;
    if (!principal) throw new Unauthorized("invalid or expired token");
    return { principal, setCookie: null };
  }
  const sid = readCookie(request.headers.get("cookie"), ctx.sessions.cookieName);
  if (!sid) return { principal: null, setCookie: null };
  const { principal, cookie } = await ctx.sessions.validate(sid);
  if (principal) checkSameOrigin(ctx, request);
  return { principal, setCookie: cookie };
}
