import { CUSTOMERS_UNIQUE_KEYS } from './store/customers-repo';
import { LEDGER_UNIQUE_KEYS } from './store/ledger';
import { MESSAGES_UNIQUE_KEYS } from './store/messages-repo';
import { PAYLOAD_UNIQUE_KEYS } from './store/payload-repo';
import { TOKEN_BINDING_UNIQUE_KEYS } from './store/token-bindings-repo';
/**
 * Every error Intake raises on purpose. Each class carries the one HTTP answer it maps to; the
 * mapping happens in exactly one place (src/api/error-handler.ts). Messages never contain payload
 * data.
 */
import { PERMANENT_ERROR_TYPE } from '../workflows/failure-types';

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

/** The signature is missing, wrong or outside the timestamp tolerance; or a signed token is reused. */
export class InvalidSignatureError extends IntakeHttpError {
  readonly status = 401;
  readonly code = 'invalid_signature';
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * A signed token is already bound to another key (`boundTo`: an event id, or the content of a
 * quarantined request). Ingest lets the request through only when `boundTo` is its own quarantined
 * content: the same delivery, re-sent after a schema fix.
 */
export class TokenBoundError extends InvalidSignatureError {
  constructor(readonly boundTo: string) {
    super('token already used for another event');
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

/**
 * The quarantine of this source holds as many rows or bytes as it may
 * (INTAKE_QUARANTINE_MAX_ROWS / INTAKE_QUARANTINE_MAX_BYTES): nothing was stored. A provider retries
 * a 429 later; by then an operator has re-ingested or dropped what is there, or the flood stopped.
 */
export class QuarantineFullError extends IntakeHttpError {
  readonly status = 429;
  readonly code = 'quarantine_full';
  /** Seconds the client should wait, sent as Retry-After. */
  readonly retryAfterS: number;
  constructor(retryAfterS = 60) {
    super('the quarantine of this source is full');
    this.retryAfterS = retryAfterS;
  }
}

/** The request's media type is allowed, but its body is not a JSON object (admin routes). */
export class UnsupportedAdminBodyError extends IntakeHttpError {
  readonly status = 415;
  readonly code = 'unsupported_media_type';
  constructor() {
    super('admin requests take a JSON object (application/json) or query parameters');
  }
  override body() {
    return { error: this.code, expected: 'application/json' };
  }
}

/** Missing or wrong bearer token (admin routes, read routes, a remote client of a token-less codec). */
export class UnauthorizedError extends IntakeHttpError {
  readonly status = 401;
  readonly code = 'unauthorized';
  constructor() {
    super('bearer token required');
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

/**
 * An operator named an event, redrive, replay or dead letter the admin API does not know: the
 * answer says which (`{"error":"not_found","message":"unknown event"}`), so the CLI can print it.
 * Admin routes only: the read routes and unknown paths keep the bare `not_found`.
 */
export class UnknownOperatorTargetError extends NotFoundError {
  override body() {
    return { error: this.code, message: this.message };
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

/** The redrive has already finished, so it cannot be cancelled. */
export class RedriveNotRunningError extends IntakeHttpError {
  readonly status = 409;
  readonly code = 'not_running';
  constructor(
    readonly currentStatus: string,
    /** What is not running: a `redrive` or a `replay`. */
    what = 'redrive',
  ) {
    super(`${what} is ${currentStatus}, not running`);
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
  override readonly name = PERMANENT_ERROR_TYPE;
}

/**
 * Thrown by a handler for a retryable failure that says when to try again (a delivery answered `429`
 * or `503` with `Retry-After`): the next attempt waits `retryAfterMs` instead of the policy's backoff.
 */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
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

/**
 * A PostgreSQL error reduced to what is safe to show: SQLSTATE, constraint, column and table.
 * PostgreSQL's message and detail can quote the rejected value (`invalid input syntax for type
 * integer: "…"`, `Failing row contains (…)`), so they never travel further than the catch that
 * builds this: not into logs, `lastError` nor the workflow history.
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    /** SQLSTATE, e.g. `22P05`. */
    readonly code: string,
    readonly constraint?: string,
    readonly column?: string,
    readonly table?: string,
  ) {
    super(describeStoreFailure(code, constraint, column, table));
  }
}

function describeStoreFailure(code: string, constraint?: string, column?: string, table?: string): string {
  const where = [
    table && `table ${table}`,
    column && `column ${column}`,
    constraint && `constraint ${constraint}`,
  ].filter(Boolean);
  return `store error SQLSTATE ${code}${where.length ? ` (${where.join(', ')})` : ''}`;
}

/** The fields of a `pg` DatabaseError that are safe to keep (none of them holds a value). */
interface DatabaseErrorLike {
  code: string;
  severity: string;
  constraint?: unknown;
  column?: unknown;
  table?: unknown;
}

/** True for an error PostgreSQL (or PGlite) sent: it has a SQLSTATE and a severity. */
export function isDatabaseError(err: unknown): err is DatabaseErrorLike {
  const e = err as Partial<DatabaseErrorLike> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(e.code) &&
    typeof e.severity === 'string'
  );
}

/**
 * Unique keys a handler may hit when two attempts race (each inserts with ON CONFLICT, so this is
 * rare and the next attempt sees the row): retried, not parked. Any other unique key is a data
 * error.
 */
const EXPECTED_UNIQUE_KEYS = new Set<string>([
  ...LEDGER_UNIQUE_KEYS,
  ...MESSAGES_UNIQUE_KEYS,
  ...CUSTOMERS_UNIQUE_KEYS,
  ...PAYLOAD_UNIQUE_KEYS,
  ...TOKEN_BINDING_UNIQUE_KEYS,
]);

const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

/** A store error as a value-free StoreError; any other Error unchanged (non-errors wrapped). */
export function withoutValues(err: unknown): Error {
  if (isDatabaseError(err))
    return new StoreError(err.code, str(err.constraint), str(err.column), str(err.table));
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * What a handler failure becomes before it leaves the activity: the one place store errors are
 * reduced and classified. A PostgreSQL error becomes a value-free StoreError; when it is a
 * deterministic data error (SQLSTATE class 22, data exception, or class 23, integrity constraint
 * violation, other than the expected unique keys) retrying cannot help, so it becomes a
 * PermanentProcessingError and the event parks at once. Other errors pass unchanged.
 */
export function toProcessingError(err: unknown): Error {
  const safe = withoutValues(err);
  if (!(safe instanceof StoreError)) return safe;
  const klass = safe.code.slice(0, 2);
  const expectedUnique = safe.code === '23505' && EXPECTED_UNIQUE_KEYS.has(safe.constraint ?? '');
  if (klass === '22' || (klass === '23' && !expectedUnique)) {
    return new PermanentProcessingError(`the store refused the event's data: ${safe.message}`, {
      cause: safe,
    });
  }
  return safe;
}

/** The Temporal dev server could not start (its port is taken, it exited, it never answered). */
export class DevServerError extends Error {
  override readonly name = 'DevServerError';
}
