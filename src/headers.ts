// Headers every answer carries, whatever route, error or file produced it.
/** No MIME sniffing, no Referer (ping and badge URLs carry keys), no framing by other sites. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "content-security-policy": "frame-ancestors 'none'",
};

const API_PREFIX = "/api/v1/";

/**
 * For an Elysia onRequest hook: the security headers, and `Cache-Control: no-store` on the REST
 * API, whose answers carry secrets (new tokens, enrollment tokens, the ping key in the tenant's
 * settings) and the live state of jobs. A route may still set its own Cache-Control.
 */
export function applySecurityHeaders(request: Request, headers: Record<string, unknown>): void {
  Object.assign(headers, SECURITY_HEADERS);
  const url = request.url;
  const path = url.indexOf("/", url.indexOf("//") + 2);
  if (path >= 0 && url.startsWith(API_PREFIX, path)) headers["cache-control"] = "no-store";
}
