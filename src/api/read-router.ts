import express, { type Router } from 'express';
import type { Config } from '../config';
import { NotFoundError } from '../errors';
import { isStorableText } from '../sources/validation';
import { getCustomer } from '../store/customers-repo';
import { getMessage } from '../store/messages-repo';
import type { Store } from '../store/store';
import { requireReader } from './admin-auth';
import { methodNotAllowed, route } from './route';

/**
 * Read routes for processed data (personal data), for the admin or the read-only token:
 * `GET /messages/:messageId`, `GET /customers/:partner/:id`. Like the admin routes, the token is
 * checked before anything else, so strangers learn nothing, not even a 404.
 */
export function readRouter(config: Config, store: Store): Router {
  const router = express.Router();
  router.use(['/messages', '/customers'], requireReader(config.adminToken, config.readToken));
  router
    .route('/messages/:messageId')
    .get(
      route(async (req, res) => {
        const messageId = String(req.params.messageId);
        // No stored id holds NUL (the schema refuses it) and PostgreSQL text cannot: unknown, not a 500.
        if (!isStorableText(messageId)) throw new NotFoundError('unknown message');
        const message = await getMessage(store, messageId);
        if (!message) throw new NotFoundError('unknown message');
        res.json(message);
      }),
    )
    .all(methodNotAllowed(['GET']));
  // Tombstones answer 200 with `deleted: true`; only a customer no event ever named is 404.
  router
    .route('/customers/:partner/:id')
    .get(
      route(async (req, res) => {
        const customer = await getCustomer(store, String(req.params.partner), String(req.params.id));
        if (!customer) throw new NotFoundError('unknown customer');
        res.json(customer);
      }),
    )
    .all(methodNotAllowed(['GET']));
  return router;
}
