import type { Tracer } from '@opentelemetry/api';
import express, { type RequestHandler, type Router } from 'express';
import { isServing, type Config } from '../config';
import { UnknownSourceError, UnsupportedMediaTypeError } from '../errors';
import type { Logger } from '../platform/logger';
import type { ApiMetrics } from '../platform/metrics';
import type { AnySource } from '../sources/types';
import { ingest, type IngestDeps } from '../ingest/pipeline';
import { readRawBody } from './raw-body';
import { requestSpan } from './request-span';
import { methodNotAllowed, route, type AsyncHandler } from './route';

/** What the webhook routes are built from. */
export interface WebhooksRouterDeps {
  /** The ingest pipeline's dependencies (config, client, store, start limiter, spool, quarantine). */
  ingest: IngestDeps;
  logger: Logger;
  metrics: ApiMetrics;
  /** Traces webhook requests when set. */
  tracer?: Tracer;
}

/** `application/json`, optionally with `charset=utf-8`; anything else is refused with 415. */
function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  // Whitespace around `=` is dropped first: `charset = utf-16` must not pass as "not a charset".
  const [type, ...params] = header.split(';').map((s) =>
    s
      .replace(/\s*=\s*/, '=')
      .trim()
      .toLowerCase(),
  );
  if (type !== 'application/json') return false;
  return params.every((p) => !p.startsWith('charset=') || /^charset="?utf-8"?$/.test(p));
}

/**
 * How many header lines named `name` (lower case) the request carried. Node keeps only the first of duplicates,
 * so two lines that disagree could make a proxy and Intake read the body differently: a request
 * with more than one is refused like a wrong type.
 */
function headerLines(rawHeaders: string[], name: string): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === name) n++;
  return n;
}

/** Checks before the body is read: the source is configured, and the body is declared JSON. */
function precheck(source: AnySource, config: Config): RequestHandler {
  return (req, res, next) => {
    res.locals.started = process.hrtime.bigint();
    res.locals.source = source.name;
    if (!isServing(config, source, req.params as Record<string, string>))
      return next(new UnknownSourceError());
    // Content-Encoding twice is refused for the same reason as Content-Type twice.
    if (
      headerLines(req.rawHeaders, 'content-type') !== 1 ||
      headerLines(req.rawHeaders, 'content-encoding') > 1 ||
      !isJsonContentType(req.get('content-type'))
    )
      return next(new UnsupportedMediaTypeError('application/json'));
    next();
  };
}

/** Ingests the read body and answers; counted and logged by ids only, never with payloads. */
function acknowledge(source: AnySource, deps: WebhooksRouterDeps): AsyncHandler {
  const { metrics, logger } = deps;
  const ingestDeps: IngestDeps = {
    ...deps.ingest,
    onQuarantined: () => metrics.quarantined.inc({ source: source.name }),
  };
  return async (req, res) => {
    const result = await ingest(
      source,
      {
        params: req.params as Record<string, string>,
        headers: req.headers,
        rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        url: `${req.protocol}://${req.get('host') ?? ''}${req.originalUrl}`,
      },
      ingestDeps,
    );
    if ('answered' in result) {
      // A handshake (e.g. a URL verification challenge): answered by the source, nothing started.
      metrics.requests.inc({ source: source.name, status: String(result.answered.status) });
      logger.info(
        { reqId: res.locals.reqId, source: source.name, outcome: 'answered' },
        'webhook handshake answered',
      );
      res.status(result.answered.status).type(result.answered.contentType).send(result.answered.body);
      return;
    }
    res.locals.eventId = result.body.id;
    const seconds = Number(process.hrtime.bigint() - (res.locals.started as bigint)) / 1e9;
    metrics.ackLatency.observe({ source: source.name }, seconds);
    if (result.eager) metrics.eagerStarts.inc({ source: source.name });
    if (result.spooled) metrics.spooled.inc({ source: source.name, reason: result.spooled });
    else
      (result.body.status === 'accepted' ? metrics.starts : metrics.duplicates).inc({ source: source.name });
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
  };
}

/**
 * `POST /webhooks/<source route>` for every registered source; another method on a source's path
 * is `405`, any other path under /webhooks `404 unknown_source`. Refusals are counted by reason
 * (see refusalCounter in src/api/app.ts), never logged with payloads.
 */
export function webhooksRouter(deps: WebhooksRouterDeps): Router {
  const { config } = deps.ingest;
  const router = express.Router();
  const rawBody = readRawBody({ limit: config.maxBodyBytes, bodyTimeoutMs: config.http.bodyTimeoutMs });
  for (const source of config.registry.all) {
    const path = `/webhooks/${source.route}`;
    router
      .route(path)
      .post(
        requestSpan(deps.tracer, path, source.name),
        precheck(source, config),
        rawBody,
        route(acknowledge(source, deps)),
      )
      .all(methodNotAllowed(['POST']));
  }
  router.all(['/webhooks', '/webhooks/{*rest}'], (_req, _res, next) => next(new UnknownSourceError()));
  return router;
}
