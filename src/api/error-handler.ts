import type { ErrorRequestHandler, Response } from 'express';
import {
  BadRequestError,
  InvalidJsonError,
  IntakeHttpError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  UnavailableError,
  withoutValues,
} from '../errors';
import type { Logger } from '../platform/logger';

/** Body-parser errors we translate (they carry `type` and `status`). */
interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** Maps any thrown value to an IntakeHttpError: the one place errors become HTTP answers. */
export function toHttpError(err: unknown, maxBodyBytes: number): IntakeHttpError | undefined {
  if (err instanceof IntakeHttpError) return err;
  const bp = err as BodyParserError;
  if (bp && typeof bp === 'object') {
    if (bp.type === 'entity.too.large' || bp.status === 413) return new PayloadTooLargeError(maxBodyBytes);
    if (
      bp.type === 'entity.parse.failed' ||
      bp.type === 'charset.unsupported' ||
      bp.type === 'encoding.unsupported'
    ) {
      return new InvalidJsonError();
    }
    if (bp.type === 'request.aborted' || bp.type === 'request.size.invalid')
      return new InvalidJsonError('request body incomplete');
    // Express's own 400s (a route parameter that is not valid percent-encoding): a generic answer.
    if (bp.status === 400 && err instanceof URIError) return new BadRequestError('malformed request path');
  }
  return undefined;
}

/** Sends an IntakeHttpError as its JSON body and headers. */
export function sendError(res: Response, err: IntakeHttpError): void {
  const retryAfterS = (err as { retryAfterS?: unknown }).retryAfterS;
  if (typeof retryAfterS === 'number') res.set('Retry-After', String(retryAfterS));
  if (err instanceof MethodNotAllowedError) res.set('Allow', err.allow.join(', '));
  res.status(err.status).json(err.body());
}

/** Express error handler: known errors → their answer; anything else → 500 without internals. */
export function errorHandler(logger: Logger, maxBodyBytes: number): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const mapped = toHttpError(err, maxBodyBytes);
    if (mapped) {
      // A 503 is the one refusal that is ours, not the client's: say why (messages are value-free).
      if (mapped instanceof UnavailableError)
        logger.warn({ reqId: res.locals.reqId, path: req.path, reason: mapped.message }, 'unavailable');
      sendError(res, mapped);
      return;
    }
    // A store error's message can quote a value from the request: only its code is logged.
    const safe = withoutValues(err);
    logger.error(
      { reqId: res.locals.reqId, path: req.path, err: { name: safe.name, message: safe.message } },
      'unhandled error',
    );
    res.status(500).json({ error: 'internal' });
  };
}
