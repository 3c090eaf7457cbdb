import express, { type Router } from 'express';
import type { Client } from '@temporalio/client';
import type { ApiMetrics } from '../platform/metrics';
import type { StartSpool } from '../store/start-spool';
import type { Store } from '../store/store';
import type { WriteHealth } from '../store/write-health';
import type { SpoolRelay } from '../ingest/spool-relay';
import { methodNotAllowed, route } from './route';

/** What the health and metrics routes read. */
export interface HealthRouterDeps {
  client: Client;
  store: Store;
  metrics: ApiMetrics;
  /** The start spool and its relay: readiness reports when new events are being spooled. */
  spool: StartSpool;
  relay: SpoolRelay;
  /** Whether ingest's last store writes were refused (disk full, read-only): then not ready. */
  writeHealth?: WriteHealth;
}

/** The readiness of Temporal and the store, reported separately. */
async function readiness(client: Client, store: Store): Promise<{ temporal: boolean; store: boolean }> {
  const temporal = client.connection
    .withDeadline(Date.now() + 2000, () => client.workflowService.getSystemInfo({}))
    .then(() => true)
    .catch(() => false);
  return { temporal: await temporal, store: await store.ping(2000) };
}

/** `GET /healthz` (liveness), `GET /readyz` (Temporal and the store, each reported), `GET /metrics`. */
export function healthRouter({
  client,
  store,
  metrics,
  spool,
  relay,
  writeHealth,
}: HealthRouterDeps): Router {
  const router = express.Router();
  router
    .route('/healthz')
    .get((_req, res) => {
      res.json({ status: 'ok' });
    })
    .all(methodNotAllowed(['GET']));
  router
    .route('/readyz')
    .get(
      route(async (_req, res) => {
        const r = await readiness(client, store);
        // A store that answers `SELECT 1` but refuses writes (a full volume, read-only) cannot keep
        // an event: not ready, with the SQLSTATE it answered.
        const refusing = r.store ? writeHealth?.refusing() : undefined;
        const ok = r.temporal && r.store && !refusing;
        const stats = r.store ? await spool.stats().catch(() => undefined) : undefined;
        // Spooling: new events are acknowledged from the store's start spool and relayed into
        // Temporal later (Temporal down or slow, or a backlog). Reported only then, with the depth.
        const spooling = r.store && (relay.spooling || !r.temporal || (stats?.depth ?? 0) > 0);
        res.status(ok ? 200 : 503).json({
          status: ok ? 'ready' : 'unavailable',
          temporal: r.temporal ? 'up' : 'down',
          store: r.store ? (refusing ? 'refusing-writes' : 'up') : 'down',
          ...(refusing ? { storeError: `SQLSTATE ${refusing}` } : {}),
          ...(spooling
            ? { spooling: true, spool: stats ? { depth: stats.depth, oldestAgeS: stats.oldestAgeS } : null }
            : {}),
          // Starts Temporal refused for good (see `intake events list --status dead`).
          ...(stats?.dead ? { deadLetters: stats.dead } : {}),
        });
      }),
    )
    .all(methodNotAllowed(['GET']));
  router
    .route('/metrics')
    .get(
      route(async (_req, res) => {
        res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
      }),
    )
    .all(methodNotAllowed(['GET']));
  return router;
}
