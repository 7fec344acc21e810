/** Domain errors: services throw these; each surface renders them its own way. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequest extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, "bad_request", message, details);
  }
}

export class Unauthorized extends AppError {
  constructor(message = "authentication required") {
    super(401, "unauthorized", message);
  }
}

export class Forbidden extends AppError {
  constructor(message = "not allowed") {
    super(403, "forbidden", message);
  }
}

export class NotFound extends AppError {
  constructor(what: string) {
    super(404, "not_found", `${what} not found`);
  }
}

export class Conflict extends AppError {
  constructor(message: string) {
    super(409, "conflict", message);
  }
}

/** A value that has the right type but the wrong meaning; `field` names it (e.g. "spec.schedule"). */
export class Invalid extends AppError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(422, "validation_failed", `${field}: ${message}`, [{ field, message }]);
  }
}

export class UnsupportedMediaType extends AppError {
  constructor(message: string) {
    super(415, "unsupported_media_type", message);
  }
}

export class TooManyRequests extends AppError {
  constructor(
    message = "too many requests",
    readonly retryAfterSeconds = 60,
  ) {
    super(429, "rate_limited", message);
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
    super(503, "storage_unavailable", `not stored: ${reason}; try again later`);
  }
}
