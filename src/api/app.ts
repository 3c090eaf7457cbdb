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
import type { Logger } from '../logger';
import { ApiMetrics } from '../metrics';
import type { Store } from '../store/store';
import { accessLog } from './access-log';
import { adminRouter } from './admin-router';
import { errorHandler, toHttpError } from './error-handler';
import { healthRouter } from './health-router';
import { readRouter } from './read-router';
import { StartLimiter } from './start-limiter';
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
  /** Traces webhook requests when set (src/telemetry.ts; the client must carry the interceptor). */
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
  const startLimiter = new StartLimiter(config.maxInflightStarts);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestId);
  app.use(accessLog(logger));
  app.use(webhooksRouter({ config, client, store, logger, metrics, startLimiter, tracer: deps.tracer }));
  app.use(adminRouter(config, client));
  app.use(readRouter(config, store));
  for (const r of deps.extraRouters ?? []) app.use(r);
  app.use(healthRouter({ client, store, metrics }));

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
