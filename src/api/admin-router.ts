import express, { type Router } from 'express';
import { eventArchiveFor } from '../ingest/archive';
import { isServing } from '../config';
import { UnknownOperatorTargetError, UnknownSourceError, UnsupportedMediaTypeError } from '../errors';
import { EventService } from '../operations/event-service';
import { ParkedEvents } from '../operations/parked-events';
import { RedriveService } from '../operations/redrive-service';
import { ReplayService } from '../operations/replay-service';
import type { Logger } from '../platform/logger';
import type { ApiMetrics } from '../platform/metrics';
import type { Quarantine } from '../store/quarantine';
import type { StartSpool } from '../store/start-spool';
import { requireAdmin } from './admin-auth';
import { adminBody } from './admin-body';
import { ingest, type IngestDeps } from '../ingest/pipeline';
import {
  deadLetterActionSchema,
  discardRequestSchema,
  eventListQuerySchema,
  issuesQuerySchema,
  parseRedriveRequest,
  parseRequest,
  replayRequestSchema,
} from '../operations/requests';
import { methodNotAllowed, route } from './route';

const GET = methodNotAllowed(['GET']);
/** The ids the quarantine hands out: `rejected:<uuid>`. */
const REJECTED_ID = /^rejected:[0-9a-f-]{36}$/;
const POST = methodNotAllowed(['POST']);

/** `/events/:id` and its retry and discard operations. */
function eventRoutes(router: Router, events: EventService): void {
  router
    .route('/events/:id')
    .get(
      route(async (req, res) => {
        res.json(await events.get(String(req.params.id)));
      }),
    )
    .all(GET);
  router
    .route('/events/:id/retry')
    .post(
      route(async (req, res) => {
        await events.retry(String(req.params.id));
        res.status(202).json({ id: req.params.id, action: 'retry' });
      }),
    )
    .all(POST);
  router
    .route('/events/:id/discard')
    .post(
      route(async (req, res) => {
        const { reason } = parseRequest(discardRequestSchema, { ...req.query, ...(req.body ?? {}) });
        await events.discard(String(req.params.id), reason);
        res.status(202).json({ id: req.params.id, action: 'discard' });
      }),
    )
    .all(POST);
}

/** Redrives: start one over the parked events, follow it, cancel it. */
function redriveRoutes(router: Router, redrives: RedriveService): void {
  router
    .route('/admin/retry-parked')
    .post(
      route(async (req, res) => {
        const started = await redrives.start(parseRedriveRequest(req.query, req.body));
        res.status('redrive' in started ? 202 : 200).json(started);
      }),
    )
    .all(POST);
  router
    .route('/admin/redrives')
    .get(
      route(async (_req, res) => {
        res.json({ redrives: await redrives.list() });
      }),
    )
    .all(GET);
  router
    .route('/admin/redrives/:id')
    .get(
      route(async (req, res) => {
        res.json(await redrives.get(String(req.params.id)));
      }),
    )
    .all(GET);
  router
    .route('/admin/redrives/:id/cancel')
    .post(
      route(async (req, res) => {
        await redrives.cancel(String(req.params.id));
        res.status(202).json({ id: req.params.id, action: 'cancel' });
      }),
    )
    .all(POST);
}

/**
 * Replays of archived events: start one (or count, for a dry run), follow it, cancel it. The body
 * must be JSON: a replay is not something a form or a stray query string should start.
 */
function replayRoutes(router: Router, replays: ReplayService): void {
  router
    .route('/admin/replay')
    .post(
      (req, _res, next) =>
        next(req.is('application/json') ? undefined : new UnsupportedMediaTypeError('application/json')),
      express.json({ limit: '1mb' }),
      route(async (req, res) => {
        // Only the admin token reaches this route: that is who asked.
        const started = await replays.start(parseRequest(replayRequestSchema, req.body), 'admin');
        res.status('replay' in started ? 202 : 200).json(started);
      }),
    )
    .all(POST);
  router
    .route('/admin/replays')
    .get(
      route(async (_req, res) => {
        res.json({ replays: await replays.list() });
      }),
    )
    .all(GET);
  router
    .route('/admin/replays/:id')
    .get(
      route(async (req, res) => {
        res.json(await replays.get(String(req.params.id)));
      }),
    )
    .all(GET);
  router
    .route('/admin/replays/:id/cancel')
    .post(
      route(async (req, res) => {
        await replays.cancel(String(req.params.id));
        res.status(202).json({ id: req.params.id, action: 'cancel' });
      }),
    )
    .all(POST);
}

/** Listings: parked events grouped by issue, and events by status and source. */
function listRoutes(router: Router, events: EventService, parked: ParkedEvents): void {
  router
    .route('/admin/issues')
    .get(
      route(async (req, res) => {
        res.json({ issues: await parked.issues(parseRequest(issuesQuerySchema, req.query)) });
      }),
    )
    .all(GET);
  router
    .route('/admin/events')
    .get(
      route(async (req, res) => {
        res.json({ events: await events.list(parseRequest(eventListQuerySchema, req.query)) });
      }),
    )
    .all(GET);
}

/** What the admin routes are built from. */
export interface AdminRouterDeps {
  /** The ingest pipeline's dependencies (a re-ingested request goes through it again). */
  ingest: IngestDeps;
  spool: StartSpool;
  quarantine: Quarantine;
  logger: Logger;
  metrics: ApiMetrics;
}

/**
 * The quarantine: re-ingest a rejected request once the schema accepts it (it keeps its row while
 * it still fails, answering 422 again), or drop it.
 */
function rejectedRoutes(router: Router, deps: AdminRouterDeps): void {
  const { quarantine, logger, metrics } = deps;
  router
    .route('/admin/rejected/:id/reingest')
    .post(
      route(async (req, res) => {
        const id = String(req.params.id);
        // Only ids the quarantine hands out reach the store (a NUL byte made PostgreSQL fail: 500).
        if (!REJECTED_ID.test(id)) throw new UnknownOperatorTargetError('unknown rejected event');
        const rejected = await quarantine.get(id);
        if (!rejected) throw new UnknownOperatorTargetError('unknown rejected event');
        const source = deps.ingest.config.registry.find(rejected.source);
        if (!source || !isServing(deps.ingest.config, source, rejected.params))
          throw new UnknownSourceError();
        const result = await ingest(
          source,
          { params: rejected.params, headers: rejected.headers, rawBody: rejected.rawBody },
          deps.ingest,
          // A row kept with its token binding won that token when it arrived: it is not bound again.
          { alreadyVerified: true, tokenBound: rejected.tokenBinding !== null },
        );
        // A re-ingest skips verification, and with it any handshake answer.
        if ('answered' in result) throw new UnknownSourceError();
        await quarantine.remove(id);
        if (result.spooled) metrics.spooled.inc({ source: source.name, reason: result.spooled });
        else if (result.body.status === 'accepted') metrics.starts.inc({ source: source.name });
        logger.info(
          { id: result.body.id, rejectedId: id, outcome: result.body.status },
          'rejected event re-ingested',
        );
        res.status(result.status).json({ ...result.body, rejectedId: id });
      }),
    )
    .all(POST);
  router
    .route('/admin/rejected/:id/drop')
    .post(
      route(async (req, res) => {
        const id = String(req.params.id);
        if (!REJECTED_ID.test(id) || !(await quarantine.remove(id)))
          throw new UnknownOperatorTargetError('unknown rejected event');
        logger.info({ rejectedId: id }, 'rejected event dropped');
        res.json({ id, action: 'drop' });
      }),
    )
    .all(POST);
}

/** Dead letters of the start spool: drop one for good, or requeue it for the relay. */
function deadLetterRoutes(router: Router, deps: AdminRouterDeps): void {
  const { spool, logger } = deps;
  for (const action of ['drop', 'requeue'] as const) {
    router
      .route(`/admin/dead-letters/:id/${action}`)
      .post(
        route(async (req, res) => {
          const id = String(req.params.id);
          // Workflow ids are printable ASCII; anything else names no row (and never reaches the store).
          const valid = deadLetterActionSchema.safeParse({ id, action }).success;
          const done = valid && (action === 'drop' ? await spool.dropDead(id) : await spool.requeueDead(id));
          if (!done) throw new UnknownOperatorTargetError('unknown dead letter');
          logger.info({ id, action }, `dead letter ${action === 'drop' ? 'dropped' : 'requeued'}`);
          res.json({ id, action });
        }),
      )
      .all(POST);
  }
}

/**
 * The admin API: event inspection and operations under `/events` and `/admin`. Everything there
 * needs the admin token, including the 404 and 405 answers, so unauthenticated callers learn
 * nothing about routes.
 */
export function adminRouter(deps: AdminRouterDeps): Router {
  const { config, client } = deps.ingest;
  const router = express.Router();
  router.use(['/events', '/admin'], requireAdmin(config.adminToken), adminBody());
  const events = new EventService(client, undefined, {
    spool: deps.spool,
    quarantine: deps.quarantine,
    archive: { archive: eventArchiveFor(config), store: deps.ingest.store },
  });
  eventRoutes(router, events);
  redriveRoutes(router, new RedriveService(client, config.temporal.taskQueue));
  replayRoutes(
    router,
    new ReplayService(client, config.temporal.taskQueue, deps.ingest.store, eventArchiveFor(config)),
  );
  listRoutes(router, events, new ParkedEvents(client));
  rejectedRoutes(router, deps);
  deadLetterRoutes(router, deps);
  return router;
}
