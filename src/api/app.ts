import { randomUUID } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import {
  BadRequestError,
  MethodNotAllowedError,
  NotFoundError,
  UnknownSourceError,
  UnsupportedMediaTypeError,
} from '../errors';
import { EventService } from '../events/event-service';
import { ParkedEvents } from '../events/parked-events';
import { RedriveService } from '../events/redrive-service';
import { redriveRequest } from './redrive-request';
import type { Logger } from '../logger';
import { ApiMetrics } from '../metrics';
import { findSource, sources } from '../sources/registry';
import type { Source } from '../sources/types';
import { isStorableText } from '../sources/validation';
import { getCustomer } from '../store/customers-repo';
import { getMessage } from '../store/mailgun-repo';
import { Quarantine } from '../store/quarantine';
import { StartSpool } from '../store/start-spool';
import type { Store } from '../store/store';
import { createEncryptionCodec } from '../temporal/encryption-codec';
import { accessLog } from './access-log';
import { requireAdmin, requireReader } from './admin-auth';
import { errorHandler, toHttpError } from './error-handler';
import { ingest, type IngestDeps } from './ingest';
import { SpoolRelay } from './spool-relay';
import { StartLimiter } from './start-limiter';
import { readRawBody } from './raw-body';
import { requestSpan } from './request-span';

/** What the API is built from. */
export interface ApiDeps {
  config: Config;
  client: Client;
  store: Store;
  logger: Logger;
  metrics?: ApiMetrics;
  /** Extra routers mounted before the fallbacks (e.g. the payload codec endpoint). */
  extraRouters?: Router[];
  /** Traces webhook requests when set (src/telemetry.ts; the client must carry the interceptor). */
  tracer?: Tracer;
}

type Handler = (req: Request, res: Response) => Promise<void>;

/** Wraps an async route so rejections reach the error handler. */
const route =
  (fn: Handler) =>
  (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };

/** `application/json`, optionally with `charset=utf-8`; anything else is refused with 415. */
function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => !p.startsWith('charset=') || /^charset="?utf-8"?$/.test(p));
}

/**
 * How many Content-Type header lines the request carried. Node keeps only the first of duplicates,
 * so two lines that disagree could make a proxy and Intake read the body differently: a request
 * with more than one is refused like a wrong type.
 */
function contentTypeLines(rawHeaders: string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === 'content-type') n++;
  return n;
}

/** The readiness of Temporal and the store, reported separately. */
async function readiness(client: Client, store: Store): Promise<{ temporal: boolean; store: boolean }> {
  const temporal = client.connection
    .withDeadline(Date.now() + 2000, () => client.workflowService.getSystemInfo({}))
    .then(() => true)
    .catch(() => false);
  return { temporal: await temporal, store: await store.ping(2000) };
}

/** Builds the express app: webhooks, admin, read routes, health and metrics. */
export function createApp(deps: ApiDeps): express.Express {
  const { config, client, store, logger } = deps;
  const metrics = deps.metrics ?? new ApiMetrics();
  // Spooled starts and quarantined bodies are sealed with the same codec as the histories.
  const codec = createEncryptionCodec(config.encryptionKeys);
  const spool = new StartSpool(store, codec);
  const quarantine = new Quarantine(store, codec);
  const relay = new SpoolRelay({ client, config, spool, logger, metrics });
  metrics.watchSpool(() => spool.stats());
  const events = new EventService(client, undefined, { spool, quarantine });
  const parked = new ParkedEvents(client);
  const redrives = new RedriveService(client, config.temporal.taskQueue);
  const startLimiter = new StartLimiter(config.maxInflightStarts);
  const ingestDeps: IngestDeps = {
    config,
    client,
    store,
    startLimiter,
    spool: { store: spool, relay },
    quarantine,
  };
  const admin = requireAdmin(config.adminToken);
  const reader = requireReader(config.adminToken, config.readToken);
  const app = express();
  // startApi runs the relay for as long as the server listens.
  app.locals.relay = relay;
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    res.locals.reqId = id;
    res.set('X-Request-Id', id);
    next();
  });
  app.use(accessLog(logger));

  // Webhooks: one route per source; refusals are counted by reason, never logged with payloads.
  const rawBody = readRawBody({ limit: config.maxBodyBytes, bodyTimeoutMs: config.http.bodyTimeoutMs });
  for (const source of sources) {
    app.post(
      `/webhooks/${source.route}`,
      requestSpan(deps.tracer, `/webhooks/${source.route}`, source.name),
      (req, res, next) => {
        res.locals.started = process.hrtime.bigint();
        res.locals.source = source.name;
        if (!source.isConfigured(config, req.params as Record<string, string>))
          return next(new UnknownSourceError());
        if (contentTypeLines(req.rawHeaders) !== 1 || !isJsonContentType(req.get('content-type')))
          return next(new UnsupportedMediaTypeError('application/json'));
        next();
      },
      rawBody,
      route(async (req, res) => {
        const result = await ingest(
          source as Source<never>,
          {
            params: req.params as Record<string, string>,
            headers: req.headers,
            rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
          },
          { ...ingestDeps, onQuarantined: () => metrics.quarantined.inc({ source: source.name }) },
        );
        res.locals.eventId = result.body.id;
        const seconds = Number(process.hrtime.bigint() - (res.locals.started as bigint)) / 1e9;
        metrics.ackLatency.observe({ source: source.name }, seconds);
        if (result.spooled) metrics.spooled.inc({ source: source.name, reason: result.spooled });
        else
          (result.body.status === 'accepted' ? metrics.starts : metrics.duplicates).inc({
            source: source.name,
          });
        metrics.requests.inc({ source: source.name, status: String(result.status) });
        logger.info(
          {
            reqId: res.locals.reqId,
            source: source.name,
            id: result.body.id,
            eventType: result.eventType,
            outcome: result.body.status,
            ...(result.spooled ? { spooled: result.spooled } : {}),
            ms: Math.round(seconds * 1000),
          },
          'webhook acknowledged',
        );
        res.status(result.status).json(result.body);
      }),
    );
  }
  // A path shaped like a source route with another method is 405; any other path 404 unknown_source.
  app.all(['/webhooks', '/webhooks/{*rest}'], (req, _res, next) => {
    const segments = req.path.split('/').filter(Boolean).slice(1);
    const known = sources.some((s) => {
      const parts = s.route.split('/');
      return (
        parts.length === segments.length &&
        parts.every((p, i) => p.startsWith(':') || p === segments[i]?.toLowerCase())
      );
    });
    next(known && req.method !== 'POST' ? new MethodNotAllowedError(['POST']) : new UnknownSourceError());
  });

  // Admin: event inspection and operations. Everything under /events and /admin needs the token,
  // including the 404 and 405 answers, so unauthenticated callers learn nothing about routes.
  app.use(['/events', '/admin'], admin);
  app.get(
    '/events/:id',
    admin,
    route(async (req, res) => {
      res.json(await events.get(String(req.params.id)));
    }),
  );
  app.post(
    '/events/:id/retry',
    admin,
    route(async (req, res) => {
      await events.retry(String(req.params.id));
      res.status(202).json({ id: req.params.id, action: 'retry' });
    }),
  );
  app.post(
    '/events/:id/discard',
    admin,
    express.json({ limit: '16kb' }),
    route(async (req, res) => {
      const reason =
        typeof req.body?.reason === 'string'
          ? req.body.reason
          : typeof req.query.reason === 'string'
            ? req.query.reason
            : undefined;
      await events.discard(String(req.params.id), reason);
      res.status(202).json({ id: req.params.id, action: 'discard' });
    }),
  );
  app.post(
    '/admin/retry-parked',
    admin,
    express.json({ limit: '16kb' }),
    route(async (req, res) => {
      const started = await redrives.start(redriveRequest(req.query, req.body));
      res.status('redrive' in started ? 202 : 200).json(started);
    }),
  );
  app.get(
    '/admin/redrives/:id',
    admin,
    route(async (req, res) => {
      res.json(await redrives.get(String(req.params.id)));
    }),
  );
  app.post(
    '/admin/redrives/:id/cancel',
    admin,
    route(async (req, res) => {
      await redrives.cancel(String(req.params.id));
      res.status(202).json({ id: req.params.id, action: 'cancel' });
    }),
  );
  app.get(
    '/admin/issues',
    admin,
    route(async (req, res) => {
      const source = req.query.source;
      if (source !== undefined && typeof source !== 'string')
        throw new BadRequestError('source must be a single value');
      res.json({ issues: await parked.issues({ source }) });
    }),
  );
  app.get(
    '/admin/events',
    admin,
    route(async (req, res) => {
      const q = req.query as Record<string, string | undefined>;
      const limit = q.limit ? Number(q.limit) : 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new BadRequestError('limit must be 1..1000');
      res.json({ events: await events.list({ status: q.status, source: q.source, limit }) });
    }),
  );

  // Quarantine: re-ingest a rejected request once the schema accepts it (it keeps its row while it
  // still fails, answering 422 again), or drop it.
  app.post(
    '/admin/rejected/:id/reingest',
    admin,
    route(async (req, res) => {
      const id = String(req.params.id);
      const rejected = await quarantine.get(id);
      if (!rejected) throw new NotFoundError('unknown rejected event');
      const source = findSource(rejected.source);
      if (!source || !source.isConfigured(config, rejected.params)) throw new UnknownSourceError();
      const result = await ingest(
        source,
        { params: rejected.params, headers: rejected.headers, rawBody: rejected.rawBody },
        ingestDeps,
        { alreadyVerified: true },
      );
      await quarantine.remove(id);
      if (result.spooled) metrics.spooled.inc({ source: source.name, reason: result.spooled });
      else if (result.body.status === 'accepted') metrics.starts.inc({ source: source.name });
      logger.info(
        { id: result.body.id, rejectedId: id, outcome: result.body.status },
        'rejected event re-ingested',
      );
      res.status(result.status).json({ ...result.body, rejectedId: id });
    }),
  );
  app.post(
    '/admin/rejected/:id/drop',
    admin,
    route(async (req, res) => {
      const id = String(req.params.id);
      if (!(await quarantine.remove(id))) throw new NotFoundError('unknown rejected event');
      logger.info({ rejectedId: id }, 'rejected event dropped');
      res.json({ id, action: 'drop' });
    }),
  );

  // Read routes for processed data (personal data): admin or read-only token. Like the admin
  // routes, the token is checked before anything else, so strangers learn nothing, not even a 404.
  app.use(['/messages', '/customers'], reader);
  app.get(
    '/messages/:messageId',
    route(async (req, res) => {
      const messageId = String(req.params.messageId);
      // No stored id holds NUL (the schema refuses it) and PostgreSQL text cannot: unknown, not a 500.
      if (!isStorableText(messageId)) throw new NotFoundError('unknown message');
      const message = await getMessage(store, messageId);
      if (!message) throw new NotFoundError('unknown message');
      res.json(message);
    }),
  );
  // Tombstones answer 200 with `deleted: true`; only a customer no event ever named is 404.
  app.get(
    '/customers/:partner/:id',
    route(async (req, res) => {
      const customer = await getCustomer(store, String(req.params.partner), String(req.params.id));
      if (!customer) throw new NotFoundError('unknown customer');
      res.json(customer);
    }),
  );

  for (const r of deps.extraRouters ?? []) app.use(r);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get(
    '/readyz',
    route(async (_req, res) => {
      const r = await readiness(client, store);
      const ok = r.temporal && r.store;
      const stats = r.store ? await spool.stats().catch(() => undefined) : undefined;
      // Spooling: new events are acknowledged from the store's start spool and relayed into
      // Temporal later (Temporal down or slow, or a backlog). Reported only then, with the depth.
      const spooling = r.store && (relay.spooling || !r.temporal || (stats?.depth ?? 0) > 0);
      res.status(ok ? 200 : 503).json({
        status: ok ? 'ready' : 'unavailable',
        temporal: r.temporal ? 'up' : 'down',
        store: r.store ? 'up' : 'down',
        ...(spooling
          ? { spooling: true, spool: stats ? { depth: stats.depth, oldestAgeS: stats.oldestAgeS } : null }
          : {}),
      });
    }),
  );
  app.get(
    '/metrics',
    route(async (_req, res) => {
      res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
    }),
  );

  // Known paths with the wrong method answer 405; everything else 404, both as JSON.
  const methods: [RegExp, string[]][] = [
    [/^\/events\/[^/]+$/, ['GET']],
    [/^\/events\/[^/]+\/(retry|discard)$/, ['POST']],
    [/^\/admin\/retry-parked$/, ['POST']],
    [/^\/admin\/redrives\/[^/]+$/, ['GET']],
    [/^\/admin\/redrives\/[^/]+\/cancel$/, ['POST']],
    [/^\/admin\/issues$/, ['GET']],
    [/^\/admin\/events$/, ['GET']],
    [/^\/admin\/rejected\/[^/]+\/(reingest|drop)$/, ['POST']],
    [/^\/(healthz|readyz|metrics)$/, ['GET']],
    [/^\/messages\/[^/]+$/, ['GET']],
    [/^\/customers\/[^/]+\/[^/]+$/, ['GET']],
  ];
  app.use((req, _res, next) => {
    const allowed = methods.find(([re]) => re.test(req.path))?.[1];
    next(allowed ? new MethodNotAllowedError(allowed) : new NotFoundError());
  });
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
