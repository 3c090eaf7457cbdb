import type { RequestHandler } from 'express';
import {
  InvalidJsonError,
  PayloadTooLargeError,
  RequestTimeoutError,
  UnsupportedMediaTypeError,
} from '../errors';

/** Options of {@link readRawBody}. */
export interface RawBodyOptions {
  /** Largest accepted body, bytes (INTAKE_MAX_BODY_BYTES). */
  limit: number;
  /** Longest silence while reading the body before a 408 (INTAKE_HTTP_BODY_TIMEOUT_MS). */
  bodyTimeoutMs: number;
}

/**
 * How much of an oversize body is read and discarded before the 413 is sent. Answering while the
 * client is still sending and then closing makes the kernel reset the connection (unread bytes),
 * and the client often sees the reset instead of the 413. Up to this many bytes the body is
 * drained first, so the answer is read; beyond it the answer goes out at once and the connection
 * closes (a client sending that much to a webhook endpoint is not a provider).
 */
export function drainCapBytes(limit: number): number {
  return Math.max(4 * limit, 1024 * 1024);
}

/**
 * Reads the request body as raw bytes (signatures are checked against exactly these) into
 * `req.body`, never buffering more than `limit`: a Content-Length over `limit` or a chunked body
 * passing it is refused with 413, after the rest is drained (see {@link drainCapBytes}). A body
 * that stalls (no byte for `bodyTimeoutMs`, e.g. shorter than its Content-Length) is answered 408.
 *
 * Written here rather than with express.raw: body-parser defers its 413 until the whole body has
 * been received however long it is, and has no idle timeout, so a short or slow body held the
 * connection until Node's request timeout. Compressed bodies are refused (415): no webhook
 * provider Intake supports compresses, and inflating would let a small request expand past the
 * limit. Every refusal closes the connection (`Connection: close`).
 */
export function readRawBody(opts: RawBodyOptions): RequestHandler {
  const { limit, bodyTimeoutMs } = opts;
  const drainCap = drainCapBytes(limit);
  return (req, res, next) => {
    // An empty Content-Encoding names no coding: the body is as sent (identity), not a 415.
    const encoding = (req.get('content-encoding') ?? '').trim().toLowerCase() || 'identity';
    // Node undoes only `chunked`; any other transfer coding (`gzip, chunked`) would reach the
    // signature check and the parse still encoded.
    const transfer = req.get('transfer-encoding');
    const unsupportedTransfer = transfer !== undefined && transfer.trim().toLowerCase() !== 'chunked';
    if (encoding !== 'identity' || unsupportedTransfer) {
      res.set('Connection', 'close');
      return next(new UnsupportedMediaTypeError('application/json'));
    }
    const declared = Number(req.get('content-length') ?? NaN);
    if (declared > drainCap) {
      res.set('Connection', 'close');
      return next(new PayloadTooLargeError(limit));
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let tooLarge = declared > limit;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => settle(tooLarge ? new PayloadTooLargeError(limit) : new RequestTimeoutError()),
        bodyTimeoutMs,
      );
    };
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
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
      if (received > limit && !tooLarge) {
        tooLarge = true;
        chunks.length = 0; // keep nothing of a body that will be refused
      }
      if (received > drainCap) return settle(new PayloadTooLargeError(limit));
      if (!tooLarge) chunks.push(chunk);
      arm();
    };
    const onEnd = () => settle(tooLarge ? new PayloadTooLargeError(limit) : undefined);
    const onAborted = () => settle(new InvalidJsonError('request body incomplete'));
    req.on('data', onData).on('end', onEnd).on('error', settle).on('aborted', onAborted);
    arm();
  };
}
