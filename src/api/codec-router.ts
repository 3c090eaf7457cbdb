import express, { type ErrorRequestHandler, type RequestHandler, type Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { BadRequestError, MethodNotAllowedError, UnauthorizedError, ValidationError } from '../errors';
import { PayloadDecryptionError } from '../temporal/encryption-codec';
import { bearerMatches } from './admin-auth';
import { sendError, toHttpError } from './error-handler';

/** What the codec endpoint is built from. */
export interface CodecRouterOptions {
  /** The codec the workers use; the endpoint runs it for the Web UI and the `temporal` CLI. */
  codec: PayloadCodec;
  /**
   * When set, requests need `Authorization: Bearer <token>` (else 401). The Web UI sends the
   * signed-in user's access token as Authorization when its codec setting "Pass access token" is
   * on; with the dev server's UI (no UI auth) there is no such token, so in development either
   * leave the admin token unset for the codec or call the endpoint from the CLI with the header.
   * Unset: only loopback clients (a browser or CLI on the same machine) are answered; any other
   * client gets 401, since the endpoint decrypts payloads.
   */
  adminToken?: string;
  /** Browser origins allowed to call the endpoint, e.g. the Web UI `http://localhost:8233`. */
  corsOrigins: string[];
}

/** True for a peer address on the loopback interface (IPv4, IPv6, or IPv4-mapped IPv6). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Largest request body accepted: a workflow history page of payloads. */
const BODY_LIMIT_BYTES = 10 * 1024 * 1024;

// proto3 JSON encodes bytes as base64 (standard or URL-safe alphabet).
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const bodySchema = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() })),
});
type JsonPayload = z.infer<typeof bodySchema>['payloads'][number];

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const b64 = (b: Uint8Array | null | undefined): string =>
  Buffer.from(b ?? new Uint8Array()).toString('base64');
const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
  data: b64(p.data),
});

/** Browser access from the allowed origins only; preflights are answered here, before auth. */
function cors(origins: ReadonlySet<string>): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    res.vary('Origin');
    if (origin && origins.has(origin)) {
      res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' });
    }
    if (req.method !== 'OPTIONS') return next();
    if (origin && origins.has(origin)) {
      res.set({
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, Authorization, X-Namespace',
        'Access-Control-Max-Age': '600',
      });
    }
    res.status(204).end();
  };
}

/** Runs one direction of the codec over a validated request body. */
function run(direction: (payloads: Payload[]) => Promise<Payload[]>): RequestHandler {
  return async (req, res) => {
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) {
      throw new ValidationError(
        parsed.error.issues.map((i) => ({
          path: i.path.map(String).join('.') || '(root)',
          message: i.message,
        })),
      );
    }
    let payloads: Payload[];
    try {
      payloads = await direction(parsed.data.payloads.map(fromJson));
    } catch (err) {
      // Only the codec's own messages (key ids, never data) are passed on.
      if (err instanceof PayloadDecryptionError) throw new BadRequestError(err.message);
      throw err;
    }
    res.json({ payloads: payloads.map(toJson) });
  };
}

/**
 * The Temporal remote codec endpoint: `POST /codec/encode` and `POST /codec/decode`, bodies
 * `{"payloads":[{"metadata":{"k":"<base64>"},"data":"<base64>"}]}` both ways. Point the Web UI's
 * "Codec Server endpoint" (or `temporal --codec-endpoint`) at `<api>/codec`. Payload data is
 * never logged.
 */
export function codecRouter(opts: CodecRouterOptions): Router {
  const { codec, adminToken } = opts;
  const inner = express.Router();
  inner.use(cors(new Set(opts.corsOrigins)));
  inner.use((req, _res, next) => {
    // The socket's peer, never X-Forwarded-For: a header is the client's word, not its address.
    const allowed = adminToken
      ? bearerMatches(req.get('authorization'), adminToken)
      : isLoopbackAddress(req.socket.remoteAddress);
    next(allowed ? undefined : new UnauthorizedError());
  });
  inner.post(
    '/encode',
    express.json({ limit: BODY_LIMIT_BYTES }),
    run((p) => codec.encode(p)),
  );
  inner.post(
    '/decode',
    express.json({ limit: BODY_LIMIT_BYTES }),
    run((p) => codec.decode(p)),
  );
  inner.all(['/encode', '/decode'], (_req, _res, next) =>
    next(new MethodNotAllowedError(['POST', 'OPTIONS'])),
  );
  // Answered here so the endpoint behaves the same mounted in the API or on its own.
  const onError: ErrorRequestHandler = (err, _req, res, next) => {
    const mapped = res.headersSent ? undefined : toHttpError(err, BODY_LIMIT_BYTES);
    if (!mapped) return next(err);
    sendError(res, mapped);
  };
  inner.use(onError);
  const router = express.Router();
  router.use('/codec', inner);
  return router;
}
