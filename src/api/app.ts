import { randomUUID } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { NotFoundError } from '../errors';
import type { Logger } from '../platform/logger';
import { ApiMetrics } from '../platform/metrics';
import { Quarantine } from '../store/quarantine';
import { StartSpool } from '../store/start-spool';
import { WriteHealth } from '../store/write-health';
import type { Store } from '../store/store';
import { createEncryptionCodec } from '../temporal/encryption-codec';
import { accessLog } from './access-log';
import { adminRouter } from './admin-router';
import { errorHandler, toHttpError } from './error-handler';
import { healthRouter } from './health-router';
import type { IngestDeps } from '../ingest/pipeline';
import { readRouter } from './read-router';
import { SpoolRelay } from '../ingest/spool-relay';
import { SpoolWriter } from '../ingest/spool-writer';
import { StartLimiter } from '../ingest/start-limiter';
import { webhooksRouter } from './webhooks-router';

/** What the API is built from. */
export interface ApiDeps {
  config: Config;
  client: Client;
  store: Store;
  logger: Logger;
  metrics?: ApiMetrics;
  /** Extra routers mounted before the fallbacks (e.g. the payload codec endpoint, src/api/codec-router.ts). */
  extraRouters?: Router[];
  /** Traces webhook requests when set (src/platform/telemetry.ts; the client must carry the interceptor). */
  tracer?: Tracer;
}

/** Takes the caller's `X-Request-Id` when it is a sane token, else a fresh one; echoes it back. */
const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = given && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
  res.locals.reqId = id;
  res.set('X-Request-Id', id);
  next();
};

/**
 * Assembles the express app from its routers: webhooks (src/api/webhooks-router.ts), admin
 * (admin-router.ts), read routes (read-router.ts), any extra routers (the codec endpoint), health
 * and metrics (health-router.ts). Each route answers its own 405; what no router knows is a JSON
 * 404, and every error is answered by the one error handler.
 */
export function createApp(deps: ApiDeps): express.Express {
  const { config, client, store, logger } = deps;
  const metrics = deps.metrics ?? new ApiMetrics();
  // Spooled starts and quarantined bodies are sealed with the same codec as the histories.
  const codec = createEncryptionCodec(config.encryptionKeys);
  const spool = new StartSpool(store, codec);
  const quarantine = new Quarantine(store, codec, config.quarantine);
  const relay = new SpoolRelay({ client, config, spool, store, logger, metrics });
  const writeHealth = new WriteHealth();
  metrics.watchSpool(() => spool.stats());
  const ingestDeps: IngestDeps = {
    config,
    client,
    store,
    startLimiter: new StartLimiter(config.maxInflightStarts),
    spool: { store: spool, relay, writer: new SpoolWriter(store, spool, { maxDepth: config.spoolMaxDepth }) },
    quarantine,
    writeHealth,
  };
  const app = express();
  // startApi runs the relay for as long as the server listens.
  app.locals.relay = relay;
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestId);
  app.use(accessLog(logger));
  app.use(webhooksRouter({ ingest: ingestDeps, logger, metrics, tracer: deps.tracer }));
  app.use(adminRouter({ ingest: ingestDeps, spool, quarantine, logger, metrics }));
  app.use(readRouter(config, store));
  for (const r of deps.extraRouters ?? []) app.use(r);
  app.use(healthRouter({ client, store, metrics, spool, relay, writeHealth }));

  app.use((_req, _res, next) => next(new NotFoundError()));
  app.use(refusalCounter(metrics, config.maxBodyBytes));
  app.use(errorHandler(logger, config.maxBodyBytes));
  return app;
}

/** Counts webhook refusals by reason before the error handler answers. */
function refusalCounter(metrics: ApiMetrics, maxBodyBytes: number) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const source = res.locals.source as string | undefined;
    if (source) {
      const mapped = toHttpError(err, maxBodyBytes);
      const reason = mapped?.code ?? 'internal';
      metrics.refusals.inc({ source, reason });
      metrics.requests.inc({ source, status: String(mapped?.status ?? 500) });
    }
    next(err);
  };
}
