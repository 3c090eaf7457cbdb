/**
 * Scenario (a), the HTTP ceiling: an express hello-world that answers every POST with 202.
 * Same express version and body limit handling as the API, nothing else. PORT from the env.
 */
import express from 'express';

async function main(): Promise<void> {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.post('/webhooks/:source', express.raw({ type: () => true, limit: '1mb' }), (_req, res) => {
    res.status(202).json({ status: 'accepted' });
  });
  await new Promise<void>((resolve) => app.listen(Number(process.env.PORT), '127.0.0.1', () => resolve()));
}

main().catch((err: unknown) => {
  process.stderr.write(`hello: ${(err as Error).message}\n`);
  process.exit(1);
});
