// How much of a request body the API reads. Every body has a limit, checked before it is
// parsed: a Content-Length over it is answered 413 with nothing read; a body without one
// (chunked) is read only up to the limit, then answered 413. Pings read their own bodies
// (src/checkins/ping.ts: head and tail within the ping body limit, never refused).
import { Elysia } from "elysia";
import { errorResponse } from "./http";

/** Login, logout, tenant switch, first-run setup and agent enrollment: reachable before authentication. */
export const AUTH_BODY_LIMIT = 16 * 1024;
/** A forge's push webhook (POST /api/v1/gitops/webhook/…): unauthenticated, read raw for its signature. */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;
/** POST /api/v1/gitops/plan: a local tree's manifests as JSON (crontopus gitops plan --dir). */
export const PLAN_BODY_LIMIT = 16 * 1024 * 1024;

export interface BodyLimits {
  /** CRONTOPUS_MAX_BODY: every API body not named below. */
  maxBody: number;
  /** CRONTOPUS_PING_BODY_LIMIT: the output a check-in keeps. */
  pingBodyLimit: number;
}

/** The limit for one request's body, by its path. */
export function bodyLimitFor(path: string, l: BodyLimits): number | null {
  if (path.startsWith("/ping/")) return null;
  if (path.startsWith("/api/v1/auth/") || path === "/api/v1/agent/enroll" || path === "/login" || path === "/setup") return AUTH_BODY_LIMIT;
  if (path.startsWith("/api/v1/gitops/webhook/")) return WEBHOOK_BODY_LIMIT;
  if (path === "/api/v1/gitops/plan") return PLAN_BODY_LIMIT;
  // The output of a check-in is kept up to the ping body limit; in JSON each byte may take
  // up to six (\u0000), so the route takes that much and more for the other fields.
  if (path === "/api/v1/checkins") return Math.max(l.maxBody, 6 * l.pingBodyLimit + 64 * 1024);
  return l.maxBody;
}

const tooLarge = (limit: number) => errorResponse(413, "payload_too_large", `body: must be at most ${limit} bytes`);

/** Reads a stream up to `limit` bytes; null (and the stream cancelled) when it holds more. */
async function readUpTo(body: ReadableStream<Uint8Array>, limit: number): Promise<Buffer | null> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * The body limits as an Elysia plugin. A body without Content-Length is read here, bounded,
 * and the request answers the parsers from that copy (the request itself stays, so the client
 * address is still known).
 */
export function bodyLimit(limits: BodyLimits) {
  return new Elysia({ name: "body-limit" }).onRequest(async ({ request }) => {
    if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return;
    const start = request.url.indexOf("/", request.url.indexOf("//") + 2);
    const q = request.url.indexOf("?", start);
    const limit = bodyLimitFor(request.url.slice(start, q < 0 ? undefined : q), limits);
    if (limit === null) return;
    const length = request.headers.get("content-length");
    if (length !== null) {
      if (Number(length) > limit) return tooLarge(limit);
      return;
    }
    if (!request.body) return;
    const bytes = await readUpTo(request.body, limit);
    if (bytes === null) return tooLarge(limit);
    const copy = () => new Response(bytes as unknown as BodyInit, { headers: request.headers });
    Object.defineProperties(request, {
      text: { value: () => copy().text() },
      json: { value: () => copy().json() },
      arrayBuffer: { value: () => copy().arrayBuffer() },
      formData: { value: () => copy().formData() },
      blob: { value: () => copy().blob() },
    });
  });
}
