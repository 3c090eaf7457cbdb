import express, { type RequestHandler } from 'express';
import { BadRequestError, UnsupportedAdminBodyError } from '../errors';

const json = express.json({ limit: '16kb', strict: true, type: () => true });

/** True when the request carries a body (a length above 0, or a chunked one). */
function hasBody(req: Parameters<RequestHandler>[0]): boolean {
  if (req.get('transfer-encoding') !== undefined) return true;
  const length = req.get('content-length');
  return length !== undefined && length.trim() !== '0';
}

/** `application/json`, optionally with `charset=utf-8`. */
function isJson(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase());
  return type === 'application/json' && params.every((p) => /^charset="?utf-8"?$/.test(p));
}

/**
 * Admin POSTs take their options as query parameters, or as a JSON object with
 * `Content-Type: application/json`; nothing else. Any other body (form data, which is curl's `-d`
 * default, `text/plain`, a JSON array or scalar) is refused before the route runs (415 or 400):
 * before, such a body was ignored, so `-d dryRun=true` started a real redrive of every parked event.
 * A request without a body passes with `req.body` undefined.
 */
export function adminBody(): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'POST') return next();
    if (!hasBody(req)) {
      req.body = undefined;
      return next();
    }
    if (!isJson(req.get('content-type'))) return next(new UnsupportedAdminBodyError());
    json(req, res, (err?: unknown) => {
      if (err) return next(err);
      const body: unknown = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return next(new BadRequestError('the body must be a JSON object'));
      next();
    });
  };
}
