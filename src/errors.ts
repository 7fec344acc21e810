/**
 * Domain errors: services throw these, saying what went wrong and never how to answer it. Each
 * surface maps them: the API to its error shape and status (http.ts), the CLI to a line and an
 * exit code (cli/run.ts).
 */

/** What kind of failure: the API's error code, and what every surface tells apart. */
export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "validation_failed"
  | "unsupported_media_type"
  | "rate_limited"
  | "storage_unavailable"
  | "managed_by_git"
  | "write_back_conflict"
  | "write_back_refused"
  | "write_back_failed";

/** One field that is wrong, and why: "spec.schedule", "is not a cron expression". */
export interface FieldIssue {
  field: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The fields at fault, when the error is about input. */
    readonly details?: FieldIssue[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A request that makes no sense as a whole (no field to point at). */
export class BadRequest extends AppError {
  constructor(message: string, details?: FieldIssue[]) {
    super("bad_request", message, details);
  }
}

export class Unauthorized extends AppError {
  constructor(message = "authentication required") {
    super("unauthorized", message);
  }
}

export class Forbidden extends AppError {
  constructor(message = "not allowed") {
    super("forbidden", message);
  }
}

export class NotFound extends AppError {
  constructor(what: string) {
    super("not_found", `${what} not found`);
  }
}

export class Conflict extends AppError {
  constructor(message: string) {
    super("conflict", message);
  }
}

/** Where a git-managed job comes from (GitOps). */
export interface JobSource {
  repository: string;
  path: string | null;
  commit: string | null;
}

/** A change to the spec of a job that Git manages: change its manifest instead (409, with the source). */
export class ManagedByGit extends AppError {
  constructor(
    what: string,
    readonly source: JobSource,
  ) {
    super("managed_by_git", `${what} is managed by Git (${source.repository}, ${source.path ?? "?"}); change its manifest there`, { source } as never);
  }
}

/**
 * Write-back (GitOps): the manifest's file changed upstream since the job was synced, or a push was
 * rejected twice. Nothing was committed and the job is unchanged (409, with the file and the commit).
 */
export class WriteBackConflict extends AppError {
  constructor(
    readonly path: string,
    readonly upstreamCommit: string,
    message: string,
  ) {
    super("write_back_conflict", message, { path, upstream_commit: upstreamCommit } as never);
  }
}

/** Write-back would commit what a sync cannot apply (e.g. a file holding several jobs in one list): nothing was committed (409). */
export class WriteBackRefused extends AppError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super("write_back_refused", message, { path } as never);
  }
}

/** Write-back could not push (credentials without push rights, a protected branch, the remote down): nothing was changed (502). */
export class WriteBackFailed extends AppError {
  constructor(message: string) {
    super("write_back_failed", message);
  }
}

/** A value that has the right type but the wrong meaning; `field` names it (e.g. "spec.schedule"). */
export class Invalid extends AppError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super("validation_failed", `${field}: ${message}`, [{ field, message }]);
  }
}

/** Input in a form this service does not read (a body sent as a type it does not take). */
export class UnsupportedMediaType extends AppError {
  constructor(message: string) {
    super("unsupported_media_type", message);
  }
}

export class TooManyRequests extends AppError {
  constructor(
    message = "too many requests",
    readonly retryAfterSeconds = 60,
  ) {
    super("rate_limited", message);
  }
}

/**
 * The database cannot take writes now (disk full, I/O error, read-only file system): nothing
 * was stored, and the same request can succeed later, once an operator has made room.
 */
export class StorageUnavailable extends AppError {
  constructor(
    /** What is wrong, for people: "the disk is full". */
    readonly reason: string,
    readonly retryAfterSeconds = 30,
  ) {
    super("storage_unavailable", `not stored: ${reason}; try again later`);
  }
}
