type Server = { requestIP(r: Request): { address: string } | null } | null | undefined;

/**
 * The client's address: the socket's, or behind a trusted reverse proxy (CRONTOPUS_TRUST_PROXY)
 * the first address of X-Forwarded-For, so rate limits and run sources see real clients.
 */
export function clientIp(server: Server, request: Request, trustProxy: boolean): string {
  if (trustProxy) {
    const fwd = request.headers.get("x-forwarded-for");
    if (fwd) return fwd.split(",")[0]!.trim();
    const real = request.headers.get("x-real-ip");
    if (real) return real.trim();
  }
  return server?.requestIP(request)?.address ?? "local";
}
