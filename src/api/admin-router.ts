import express, { type Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { BadRequestError } from '../errors';
import { EventService } from '../events/event-service';
import { ParkedEvents } from '../events/parked-events';
import { RedriveService } from '../events/redrive-service';
import { requireAdmin } from './admin-auth';
import { redriveRequest } from './redrive-request';
import { methodNotAllowed, route } from './route';

const GET = methodNotAllowed(['GET']);
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
    )
    .all(POST);
}

/** Redrives: start one over the parked events, follow it, cancel it. */
function redriveRoutes(router: Router, redrives: RedriveService): void {
  router
    .route('/admin/retry-parked')
    .post(
      express.json({ limit: '16kb' }),
      route(async (req, res) => {
        const started = await redrives.start(redriveRequest(req.query, req.body));
        res.status('redrive' in started ? 202 : 200).json(started);
      }),
    )
    .all(POST);
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

/** Listings: parked events grouped by issue, and events by status and source. */
function listRoutes(router: Router, events: EventService, parked: ParkedEvents): void {
  router
    .route('/admin/issues')
    .get(
      route(async (req, res) => {
        const source = req.query.source;
        if (source !== undefined && typeof source !== 'string')
          throw new BadRequestError('source must be a single value');
        res.json({ issues: await parked.issues({ source }) });
      }),
    )
    .all(GET);
  router
    .route('/admin/events')
    .get(
      route(async (req, res) => {
        const q = req.query as Record<string, string | undefined>;
        const limit = q.limit ? Number(q.limit) : 100;
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
          throw new BadRequestError('limit must be 1..1000');
        res.json({ events: await events.list({ status: q.status, source: q.source, limit }) });
      }),
    )
    .all(GET);
}

/**
 * The admin API: event inspection and operations under `/events` and `/admin`. Everything there
 * needs the admin token, including the 404 and 405 answers, so unauthenticated callers learn
 * nothing about routes.
 */
export function adminRouter(config: Config, client: Client): Router {
  const router = express.Router();
  router.use(['/events', '/admin'], requireAdmin(config.adminToken));
  const events = new EventService(client);
  eventRoutes(router, events);
  redriveRoutes(router, new RedriveService(client, config.temporal.taskQueue));
  listRoutes(router, events, new ParkedEvents(client));
  return router;
}
