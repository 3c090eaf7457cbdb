/**
 * Scenario (c), the naive Temporal endpoint a team would write first: express.json, then
 * client.workflow.start with the parsed body, 202 once the start is persisted. No signature, no
 * schema, no dedup. Env: PORT, TEMPORAL_ADDRESS, BENCH_TASK_QUEUE.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import { Client, Connection } from '@temporalio/client';

async function main(): Promise<void> {
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: 'default' });
  const taskQueue = process.env.BENCH_TASK_QUEUE ?? 'bench-naive';
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.post('/webhooks/:source', express.json({ limit: '1mb' }), (req, res) => {
    client.workflow.start('processEvent', { taskQueue, workflowId: randomUUID(), args: [req.body] }).then(
      (h) => res.status(202).json({ id: h.workflowId, status: 'accepted' }),
      () => res.status(503).json({ error: 'unavailable' }),
    );
  });
  await new Promise<void>((resolve) => app.listen(Number(process.env.PORT), '127.0.0.1', () => resolve()));
}

main().catch((err: unknown) => {
  process.stderr.write(`naive: ${(err as Error).message}\n`);
  process.exit(1);
});
