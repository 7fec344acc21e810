// CSRF tokens for the console's forms and htmx requests. A token is derived from a secret the
// browser holds in an HttpOnly cookie: the session cookie once signed in, before that a cookie of
// its own (crontopus_csrf, for the login and setup forms). Another site can make the browser send
// those cookies (SameSite=Lax still sends them on top-level GETs), but cannot read a page to learn
// the token, so a request that carries the cookie and no matching token is refused. The database
// keeps only the SHA-256 of a session id and the token is a hash of another shape, so neither a
// copy of the database nor a leaked page gives the other.
import { createHash, timingSafeEqual } from "node:crypto";
import { randomSecret } from "../tokens";

/** The hidden form field that carries the token. */
export const CSRF_FIELD = "csrf";
/** The header htmx requests carry it in (public/console.ts sets it). */
export const CSRF_HEADER = "x-csrf-token";
/** The secret of a browser that has no session yet. */
export const PRESESSION_COOKIE = "crontopus_csrf";

/** The token of the forms of a browser whose secret is `seed`. */
export function csrfToken(seed: string): string {
  return createHash("sha256").update(`crontopus csrf v1\0${seed}`).digest("base64url");
}

/** Whether `sent` is the token of `seed` (in constant time). */
export function csrfMatches(seed: string | null, sent: string | null | undefined): boolean {
  if (!seed || !sent) return false;
  const want = Buffer.from(csrfToken(seed));
  const got = Buffer.from(sent);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** A new pre-session secret and the Set-Cookie that stores it for the browser's session. */
export function presessionCookie(secure: boolean): { seed: string; cookie: string } {
  const seed = randomSecret(24);
  return { seed, cookie: `${PRESESSION_COOKIE}=${seed}; Path=/; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}` };
}
