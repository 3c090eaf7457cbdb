/**
 * Every error Intake raises on purpose. Each class carries the one HTTP answer it maps to; the
 * mapping happens in exactly one place (src/api/error-handler.ts). Messages never contain payload
 * data.
 */

/** One schema problem: the JSON path and what is wrong there. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Base class of errors that become an HTTP answer. */
export abstract class IntakeHttpError extends Error {
  /** HTTP status code. */
  abstract readonly status: number;
  /** Stable machine-readable code, sent as `{"error": code}`. */
  abstract readonly code: string;
  /** Extra fields merged into the JSON body. */
  body(): Record<string, unknown> {
    return { error: this.code };
  }
}

/** The route names no configured source. */
export class UnknownSourceError extends IntakeHttpError {
  readonly status = 404;
  readonly code = 'unknown_source';
  constructor() {
    super('unknown or unconfigured source');
  }
}

/** The body is not of the source's content type. */
export class UnsupportedMediaTypeError extends IntakeHttpError {
  readonly status = 415;
  readonly code = 'unsupported_media_type';
  constructor(readonly expected: string) {
    super(`expected ${expected}`);
  }
  override body() {
    return { error: this.code, expected: this.expected };
  }
}

/** The body is not well-formed JSON (or not UTF-8, or breaks the structural limits). */
export class InvalidJsonError extends IntakeHttpError {
  readonly status = 400;
  readonly code = 'invalid_json';
  constructor(reason = 'body is not valid JSON') {
    super(reason);
  }
}

/** The JSON does not match the source's schema. */
export class ValidationError extends IntakeHttpError {
  readonly status = 422;
  readonly code = 'validation_failed';
  constructor(readonly issues: ValidationIssue[]) {
    super('validation failed');
  }
  override body() {
    return { error: this.code, issues: this.issues };
  }
}

/** The signature is missing, wrong or outside the timestamp tolerance; or a Mailgun token is reused. */
export class InvalidSignatureError extends IntakeHttpError {
  readonly status = 401;
  readonly code = 'invalid_signature';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The body is larger than INTAKE_MAX_BODY_BYTES. */
export class PayloadTooLargeError extends IntakeHttpError {
  readonly status = 413;
  readonly code = 'payload_too_large';
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

/** The body stalled: no byte for the body timeout (a body shorter than its Content-Length, a slow loris). */
export class RequestTimeoutError extends IntakeHttpError {
  readonly status = 408;
  readonly code = 'request_timeout';
  constructor() {
    super('request body stalled');
  }
}

/** Temporal (or the store) could not persist the start in time; the provider must retry. */
export class UnavailableError extends IntakeHttpError {
  readonly status = 503;
  readonly code = 'unavailable';
  /** Seconds the client should wait, sent as Retry-After. */
  readonly retryAfterS: number;
  constructor(reason: string, retryAfterS = 5) {
    super(reason);
    this.retryAfterS = retryAfterS;
  }
}

/** Missing or wrong admin bearer token. */
export class UnauthorizedError extends IntakeHttpError {
  readonly status = 401;
  readonly code = 'unauthorized';
  constructor() {
    super('admin token required');
  }
}

/** No such event (or route). */
export class NotFoundError extends IntakeHttpError {
  readonly status = 404;
  readonly code = 'not_found';
  constructor(what = 'not found') {
    super(what);
  }
}

/** The event is not parked, so it cannot be retried or discarded. */
export class NotParkedError extends IntakeHttpError {
  readonly status = 409;
  readonly code = 'not_parked';
  constructor(readonly currentStatus: string) {
    super(`event is ${currentStatus}, not parked`);
  }
  override body() {
    return { error: this.code, status: this.currentStatus };
  }
}

/** The route exists but not for this method. */
export class MethodNotAllowedError extends IntakeHttpError {
  readonly status = 405;
  readonly code = 'method_not_allowed';
  constructor(readonly allow: string[]) {
    super('method not allowed');
  }
}

/** Malformed admin request (bad query parameter). */
export class BadRequestError extends IntakeHttpError {
  readonly status = 400;
  readonly code = 'bad_request';
  constructor(reason: string) {
    super(reason);
  }
  override body() {
    return { error: this.code, message: this.message };
  }
}

/**
 * Thrown by a handler for a failure that retrying cannot fix (bad data the schema let through, a
 * business rule). The activity layer turns it into a non-retryable failure: the event parks at once.
 */
export class PermanentProcessingError extends Error {
  override readonly name = 'PermanentProcessingError';
}

/** A configuration value is missing or invalid; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
  }
}

/** The Temporal dev server could not start (its port is taken, it exited, it never answered). */
export class DevServerError extends Error {
  override readonly name = 'DevServerError';
}
