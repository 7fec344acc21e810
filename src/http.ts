// Shared plumbing for the REST surfaces: the authenticated base and the one error shape.
import { Elysia } from "elysia";
import { authenticate } from "./auth/authenticate";
import type { AppContext } from "./context";
import { AppError, StorageUnavailable, TooManyRequests, type ErrorCode } from "./errors";
import { storageFault } from "./db";
import { newId } from "./tokens";
import { explain, type Issue } from "./validation";

/**
 * How the app drops unknown fields from input (createApp's Elysia config): TypeBox's Clean. Elysia's default ("exactMirror")
 * rebuilds a value by its schema before checking it, so a string sent for a list of objects
 * became a list of empty objects and the 422 named a field inside it.
 */
export const NORMALIZE = "typebox" as const;

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

interface ElysiaValidationError {
  type?: string;
  value?: unknown;
  validator?: { schema?: unknown };
  all?: { path?: string }[];
}

/** The 422 details of a failed route schema, in words a person reads (see validation.ts). */
function validationIssues(error: unknown, input: RequestInput): Issue[] {
  const e = error as ElysiaValidationError;
  // Elysia says which part failed: body, query, params, headers.
  let part = e.type ?? "body";
  const schema = (e.validator?.schema ?? e.validator) as Record<string, unknown> | undefined;
  // A number or boolean read from text (query strings) fails inside Elysia's conversion, which
  // reports the bare value as "property": find the field that holds it.
  if (part === "property") part = fieldHolding(input, e.value) ?? "value";
  const issues = schema ? explain(schema, e.value, part) : [];
  // One line per field: a missing field also fails its type, which says nothing new.
  const seen = new Set<string>();
  const unique = issues.filter((i) => !seen.has(i.field) && seen.add(i.field));
  if (unique.length) return unique;
  // The schema walk found nothing (a check it does not know): name the place, at least.
  const path = e.all?.[0]?.path;
  const field = path && path !== "root" ? path.replace(/^\//, "").split("/").map((k, i) => (/^\d+$/.test(k) ? `[${k}]` : i ? `.${k}` : k)).join("") : part;
  return [{ field, message: "is invalid" }];
}

/** What Elysia had read of the request when it failed (onError's context). */
export interface RequestInput {
  query?: Record<string, unknown>;
  body?: unknown;
}

/** The top-level query or body field whose value reads as `value` (e.g. "0" for 0). */
function fieldHolding(input: RequestInput, value: unknown): string | null {
  const reads = (v: unknown) => v === value || (typeof v === "string" && v.trim() !== "" && String(value) === v.trim());
  for (const source of [input.query, input.body]) {
    if (!source || typeof source !== "object" || Array.isArray(source)) continue;
    for (const [k, v] of Object.entries(source)) if (reads(v)) return k;
  }
  return null;
}

/** The API's status for each kind of domain error: the one place it is decided. */
const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unsupported_media_type: 415,
  validation_failed: 422,
  rate_limited: 429,
  storage_unavailable: 503,
  managed_by_git: 409,
  write_back_conflict: 409,
  write_back_refused: 409,
  write_back_failed: 502,
};

/** Maps any error thrown on the API to `{"error": {code, message, details?}}`. */
export function renderApiError(ctx: AppContext, code: string | number, error: unknown, request: Request, input: RequestInput = {}): Response {
  // A route's own body parser (the job routes') refuses with a domain error; Elysia wraps it.
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (code === "PARSE" && cause instanceof AppError) error = cause;
  // A write the disk could not take (full, read-only, I/O error): 503, try again later.
  const fault = storageFault(error);
  if (fault) {
    ctx.storage.failed(fault, ctx.now());
    ctx.log.warn("write refused: storage unavailable", { request_id: ctx.requests.idOf(request), method: request.method, route: ctx.requests.routeOf(request), reason: fault.reason });
    error = fault;
  }
  if (error instanceof AppError) {
    const retry = error instanceof TooManyRequests || error instanceof StorageUnavailable ? error.retryAfterSeconds : null;
    const headers = retry !== null ? { "retry-after": String(retry) } : undefined;
    return errorResponse(STATUS[error.code], error.code, error.message, error.details, headers);
  }
  switch (code) {
    case "VALIDATION": {
      const details = validationIssues(error, input);
      const first = details[0]!;
      return errorResponse(422, "validation_failed", `${first.field}: ${first.message}`, details);
    }
    case "PARSE":
      return errorResponse(400, "bad_request", "body: is not valid JSON");
    case "NOT_FOUND":
      return errorResponse(404, "not_found", `no route for ${request.method} ${new URL(request.url).pathname}`);
    case "INVALID_COOKIE_SIGNATURE":
      return errorResponse(400, "bad_request", "invalid cookie");
  }
  const requestId = logUnhandled(ctx, request, error);
  return errorResponse(500, "internal_error", `internal error (request id ${requestId})`);
}

/**
 * Logs an error no surface expected, with the request's id (as in its request line) to quote
 * to the user. The route, not the path: a path may hold a token.
 */
export function logUnhandled(ctx: AppContext, request: Request, error: unknown): string {
  const requestId = ctx.requests.idOf(request) ?? newId();
  ctx.log.error("unhandled error", {
    request_id: requestId,
    method: request.method,
    route: ctx.requests.routeOf(request),
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return requestId;
}
