/**
 * Scenario (e), the classic design: express → RabbitMQ durable queue, persistent messages,
 * publisher confirms; 202 only after the broker confirmed the message (so it is on disk).
 * Env: PORT, BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672), BENCH_QUEUE.
 */
import express from 'express';
import amqp from 'amqplib';

async function main(): Promise<void> {
  const conn = await amqp.connect(process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
  const ch = await conn.createConfirmChannel();
  const queue = process.env.BENCH_QUEUE ?? 'bench-intake';
  await ch.assertQueue(queue, { durable: true });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.post('/webhooks/:source', express.json({ limit: '1mb' }), (req, res) => {
    const body = Buffer.from(JSON.stringify(req.body));
    ch.sendToQueue(queue, body, { persistent: true, contentType: 'application/json' }, (err) => {
      if (err) res.status(503).json({ error: 'unavailable' });
      else res.status(202).json({ status: 'accepted' });
    });
  });
  const server = app.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    // The bench owns the queue: delete it so runs do not pile messages up in the broker.
    void ch
      .deleteQueue(queue)
      .then(() => conn.close())
      .finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`rabbit: ${(err as Error).message}\n`);
  process.exit(1);
});
