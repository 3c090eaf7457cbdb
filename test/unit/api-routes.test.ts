import request from 'supertest';
import { createApp } from '../../src/api/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/platform/logger';

// Routing only: a 405 or 404 is answered before any handler reaches Temporal or the store, so
// neither is needed here (the integration tests cover the routes' answers with both running).
const config = loadConfig({
  MAILGUN_SIGNING_KEY: 'key',
  INTAKE_PARTNER_SECRETS: 'acme=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  INTAKE_ADMIN_TOKEN: 'admin-token',
});
const app = createApp({ config, client: {} as never, store: {} as never, logger: createLogger('silent') });
const call = (method: string, path: string) =>
  request(app)[method.toLowerCase() as 'get'](path).set('Authorization', 'Bearer admin-token');

describe('each router answers its own 405s', () => {
  it.each([
    ['GET', '/webhooks/mailgun', 'POST'],
    ['PUT', '/webhooks/partners/acme', 'POST'],
    ['DELETE', '/events/mailgun:x', 'GET'],
    ['GET', '/events/mailgun:x/retry', 'POST'],
    ['GET', '/events/mailgun:x/discard', 'POST'],
    ['PUT', '/admin/retry-parked', 'POST'],
    ['POST', '/admin/redrives', 'GET'],
    ['POST', '/admin/redrives/redrive:x', 'GET'],
    ['GET', '/admin/redrives/redrive:x/cancel', 'POST'],
    ['POST', '/admin/issues', 'GET'],
    ['POST', '/admin/events', 'GET'],
    ['GET', '/admin/rejected/rejected:x/reingest', 'POST'],
    ['GET', '/admin/rejected/rejected:x/drop', 'POST'],
    ['POST', '/messages/m1', 'GET'],
    ['DELETE', '/customers/acme/c1', 'GET'],
    ['PUT', '/healthz', 'GET'],
    ['POST', '/readyz', 'GET'],
    ['POST', '/metrics', 'GET'],
  ])('%s %s → 405, Allow: %s', async (method, path, allow) => {
    const res = await call(method, path);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.body).toEqual({ error: 'method_not_allowed' });
  });

  it.each([
    ['GET', '/webhooks/nope', 'unknown_source'],
    ['GET', '/webhooks/mailgun/extra', 'unknown_source'],
    ['GET', '/events/mailgun:x/other', 'not_found'],
    ['GET', '/admin/other', 'not_found'],
    ['GET', '/customers/acme', 'not_found'],
    ['PUT', '/elsewhere', 'not_found'],
  ])('%s %s (no such route) → 404 %s', async (method, path, error) => {
    const res = await call(method, path);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error });
  });
});
