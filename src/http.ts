// Shared plumbing for the REST surfaces: the authenticated base and the one error shape.
import { Elysia } from "elysia";
import { authenticate } from "./auth/authenticate";
import type { AppContext } from "./context";
import { AppError, StorageUnavailable, TooManyRequests } from "./errors";
import { storageFault } from "./db";
import { newId } from "./tokens";

/** A route group whose handlers receive `principal` (null when anonymous). */
export function apiGroup(ctx: AppContext, prefix: string, tag: string) {
  return new Elysia({ prefix, detail: { tags: [tag] } }).resolve(async ({ request, set }) => {
    const { principal, setCookie } = await authenticate(ctx, request);
    if (setCookie) set.headers["set-cookie"] = setCookie;
    return { principal };
  });
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorResponse(status: number, code: string, message: string, details?: unknown, headers?: HeadersInit): Response {
  const body: ErrorBody = { error: { code, message, ...(details !== undefined ? { details } : {}) } };
  return Response.json(body, { status, headers });
}

interface ValidationIssue {
  path?: string;
  summary?: string;
  message?: string;
}

/** Maps any error thrown on the API to `{"error": {code, message, details?}}`. */
export function renderApiError(ctx: AppContext, code: string | number, error: unknown, request: Request): Response {
  // A write the disk could not take (full, read-only, I/O error): 503, try again later.
  const fault = storageFault(error);
  if (fault) {
    ctx.storage.failed(fault, ctx.now());
    ctx.log.warn("write refused: storage unavailable", { method: request.method, path: new URL(request.url).pathname, reason: fault.reason });
    error = fault;
  }
  if (error instanceof AppError) {
    const retry = error instanceof TooManyRequests || error instanceof StorageUnavailable ? error.retryAfterSeconds : null;
    const headers = retry !== null ? { "retry-after": String(retry) } : undefined;
    return errorResponse(error.status, error.code, error.message, error.details, headers);
  }
  switch (code) {
    case "VALIDATION": {
      const all = ((error as { all?: ValidationIssue[] }).all ?? []) as ValidationIssue[];
      // Elysia says which part failed: body, query, params, headers.
      const part = (error as { type?: string }).type ?? "body";
      const details = all.map((e) => ({
        field: (e.path ?? "").replace(/^\//, "").replaceAll("/", ".") || part,
        message: e.summary ?? e.message ?? "is invalid",
      }));
      const first = details[0];
      const message = first ? `${first.field}: ${first.message}` : "request is invalid";
      return errorResponse(422, "validation_failed", message, details);
    }
    case "PARSE":
      return errorResponse(400, "bad_request", "request body is not valid JSON");
    case "NOT_FOUND":
      return errorResponse(404, "not_found", `no route for ${request.method} ${new URL(request.url).pathname}`);
    case "INVALID_COOKIE_SIGNATURE":
      return errorResponse(400, "bad_request", "invalid cookie");
  }
  const requestId = newId();
  ctx.log.error("unhandled error", {
    request_id: requestId,
    method: request.method,
    path: new URL(request.url).pathname,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return errorResponse(500, "internal_error", `internal error (request id ${requestId})`);
}
