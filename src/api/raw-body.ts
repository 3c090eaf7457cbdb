import type { RequestHandler } from 'express';
import { InvalidJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors';

/**
 * Reads the request body as raw bytes (signatures are checked against exactly these) into
 * `req.body`, refusing it the moment it is known to be too large: a Content-Length over `limit`
 * before reading anything, a chunked body as soon as the bytes received pass `limit`.
 *
 * Written here rather than with express.raw: body-parser defers its 413 until the whole body has
 * been received (it drains the request first), so a chunked body that never ends held the
 * connection until the request timeout. Here the refusal is answered at once with
 * `Connection: close`; the rest of the body is discarded unread, never buffered. Compressed bodies
 * are refused (415): no webhook provider Intake supports compresses, and inflating would let a
 * small request expand past the limit.
 */
export function readRawBody(limit: number): RequestHandler {
  return (req, res, next) => {
    const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') {
      res.set('Connection', 'close');
      return next(new UnsupportedMediaTypeError('application/json'));
    }
    const declared = Number(req.get('content-length') ?? NaN);
    if (declared > limit) {
      res.set('Connection', 'close');
      return next(new PayloadTooLargeError(limit));
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      req.off('data', onData).off('end', onEnd).off('error', settle).off('aborted', onAborted);
      if (err) {
        res.set('Connection', 'close');
        req.resume(); // discard whatever still arrives; the connection closes after the answer
        return next(err);
      }
      req.body = Buffer.concat(chunks, received);
      next();
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) settle(new PayloadTooLargeError(limit));
      else chunks.push(chunk);
    };
    const onEnd = () => settle();
    const onAborted = () => settle(new InvalidJsonError('request body incomplete'));
    req.on('data', onData).on('end', onEnd).on('error', settle).on('aborted', onAborted);
  };
}
