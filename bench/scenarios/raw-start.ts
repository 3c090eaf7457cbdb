/**
 * Scenario (b), the floor: a closed loop of BENCH_CONCURRENCY concurrent client.workflow.start calls,
 * no HTTP. Each start is the request Intake's ingest makes (processEvent, id `mailgun:<eventId>`,
 * the same id policies, search attributes and input shape), so Intake's ratio to it is the cost of
 * HTTP plus the checks. No worker: starts only. Writes a JSON summary to BENCH_RESULT_FILE.
 * Env: TEMPORAL_ADDRESS, BENCH_TASK_QUEUE, BENCH_CONCURRENCY, BENCH_DURATION_MS, BENCH_WARMUP_MS.
 */
import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { IntakeEntity, IntakeEventType, IntakeSource, IntakeStatus } from '../../workflows/search-attributes';
import { processEvent } from '../../workflows/process-event';
import type { ProcessEventInput } from '../../workflows/types';
import { signedBodies, type SignedBody } from '../lib/mailgun-bodies';
import { summarize } from '../lib/stats';

async function main(): Promise<void> {
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
  const durationMs = Number(process.env.BENCH_DURATION_MS ?? 10_000);
  const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 0);
  const taskQueue = process.env.BENCH_TASK_QUEUE ?? 'bench-raw';
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: 'default' });
  const bodies = signedBodies(Number(process.env.BENCH_BODIES ?? 20_000));
  let next = 0;
  let generated = 0;
  const take = (): SignedBody => {
    const b = bodies[next++];
    if (b) return b;
    generated++;
    return signedBodies(1)[0] as SignedBody;
  };

  const startOne = async (b: SignedBody) => {
    const payload = JSON.parse(b.body) as {
      'event-data': { event: string; message: { headers: Record<string, string> } };
    };
    const ed = payload['event-data'];
    const input: ProcessEventInput = {
      id: b.id,
      source: 'mailgun',
      eventId: b.eventId,
      eventType: ed.event,
      entity: ed.message.headers['message-id'] ?? '',
      payload,
      params: {},
      receivedAt: new Date().toISOString(),
      activity: 'handleMailgun',
      retry: { maxAttempts: 10, initialIntervalMs: 1000, maxIntervalMs: 300_000 },
      activityTimeoutMs: 60_000,
      heartbeatTimeoutMs: 10_000,
    };
    await client.workflow.start(processEvent, {
      taskQueue,
      workflowId: b.id,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: IntakeSource, value: 'mailgun' },
        { key: IntakeEventType, value: input.eventType },
        { key: IntakeEntity, value: input.entity },
        { key: IntakeStatus, value: 'queued' },
      ],
    });
  };

  const run = async (ms: number, record: boolean) => {
    const latencies: number[] = [];
    let errors = 0;
    const until = Date.now() + ms;
    const loop = async () => {
      while (Date.now() < until) {
        const b = take();
        const t0 = performance.now();
        try {
          await startOne(b);
          if (record) latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, loop));
    return { latencies, errors, elapsedS: (performance.now() - t0) / 1000 };
  };

  if (warmupMs > 0) await run(warmupMs, false);
  const { latencies, errors, elapsedS } = await run(durationMs, true);
  const result = {
    total: latencies.length,
    errors,
    durationS: elapsedS,
    rps: latencies.length / elapsedS,
    latency: summarize(latencies),
    bodiesGeneratedDuringRun: generated,
  };
  fs.writeFileSync(process.env.BENCH_RESULT_FILE ?? '/dev/stdout', JSON.stringify(result));
  await connection.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`raw-start: ${(err as Error).stack}\n`);
  process.exit(1);
});
