/**
 * Records real workflow histories for the replay test (test/integration/replay.test.ts).
 *
 *   npx tsx scripts/record-histories.ts                      # throwaway dev server
 *   npx tsx scripts/record-histories.ts --address 127.0.0.1:7233   # a running dev server
 *   npx tsx scripts/record-histories.ts --prefix v3-         # new fixtures beside the old ones
 *
 * It runs the real API and a worker with the failpoints `mailgun.handler=opened` and
 * `mailgun.once=clicked`, drives one event through each path the workflow has, and writes each
 * history to test/fixtures/histories/<prefix><name>.json (add fixtures of a changed workflow under
 * a new prefix; never re-record the old ones, running executions still have their shape):
 *  - processed-first-try:       the handler succeeds at once (the quick local attempt);
 *  - processed-after-fallback:  the quick attempt fails, the regular activity succeeds;
 *  - parked-retried-processed:  the budget is spent, the event parks, the fix ships, `retry` resumes it;
 *  - parked-discarded:          the event parks and an operator discards it with a reason.
 * Payloads are recorded unencrypted (the codec is off here) so the fixtures replay without keys.
 *
 * With `--replay` it records the replayEvents workflow instead (test/fixtures/histories/replay/):
 *  - completed:       three processed events replayed in one batch;
 *  - canary-stopped:  with the handler broken again, a canary of one parks and stops the replay;
 *  - cancelled:       a `--rate 1` replay cancelled after its first event;
 *  - continued-as-new, continued-completed: the two runs of a replay that continued as new once
 *    (two batches of one event a run, through the workflow input).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { freePort } from '../src/platform/net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import type { Client } from '@temporalio/client';
import { startApi } from '../src/api/server';
import { loadConfig, type Config } from '../src/config';
import { EventService } from '../src/operations/event-service';
import {
  ReplayService,
  type ReplayStart,
  type ReplayTuning,
  type ReplayView,
} from '../src/operations/replay-service';
import { eventArchiveFor } from '../src/ingest/archive';
import { parseFailpoints } from '../src/worker/failpoints';
import { createLogger } from '../src/platform/logger';
import { mailgunExample } from '../src/sources/mailgun';
import { openStore, type Store } from '../src/store/store';
import { findTemporalCli } from '../src/dev/cli-binary';
import { createClient } from '../src/temporal/connection';
import { startDevServer, type DevServer } from '../src/dev/dev-server';
import { createWorker } from '../src/worker/worker';
import type { EventStatus } from '../workflows/types';

const OUT_DIR = path.resolve(__dirname, '..', 'test', 'fixtures', 'histories');
const SIGNING_KEY = 'key-record-histories';

type History = proto.temporal.api.history.v1.IHistory;

/**
 * The history as proto3 JSON, the format `temporal workflow show --output json` writes. This is what
 * `historyToJSON` from @temporalio/common does, but with the protobufjs copy @temporalio/proto was
 * built with: when npm installs two copies of protobufjs 8 (one under common, one under proto),
 * `historyToJSON` fails with "type must be a Type".
 */
function historyJson(history: History): unknown {
  const protojson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as {
    toJson(type: unknown, message: unknown): unknown;
  };
  const type = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
    'temporal.api.history.v1.History',
  );
  return protojson.toJson(type, proto.temporal.api.history.v1.History.fromObject(history));
}

async function waitStatus(events: EventService, id: string, status: EventStatus): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const view = await events.get(id).catch(() => undefined);
    if (view?.status === status) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${id} did not reach ${status}`);
}

async function startWorker(config: Config, store: Store) {
  const logger = createLogger('warn');
  const { worker, connection } = await createWorker({ config, store, logger, shutdownGraceS: 1 });
  const running = worker.run().finally(() => connection.close());
  return {
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

async function record(config: Config, store: Store, client: Client): Promise<Record<string, string>> {
  const events = new EventService(client);
  const api = await startApi({ config, client, store, logger: createLogger('warn') });
  try {
    const send = async (event: string): Promise<string> => {
      const req = mailgunExample({ signingKey: SIGNING_KEY, event });
      const res = await fetch(api.url + req.path, { method: 'POST', headers: req.headers, body: req.body });
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
      return ((await res.json()) as { id: string }).id;
    };

    let worker = await startWorker(config, store);
    const processed = await send('delivered');
    const fallback = await send('clicked');
    const retried = await send('opened');
    const discarded = await send('opened');
    await waitStatus(events, processed, 'processed');
    await waitStatus(events, fallback, 'processed');
    await waitStatus(events, retried, 'parked');
    await waitStatus(events, discarded, 'parked');

    // "Deploy the fix": a worker without the failpoint, then resume one and give up on the other.
    await worker.stop();
    worker = await startWorker({ ...config, failpoints: [] }, store);
    await events.retry(retried);
    await events.discard(discarded, 'recorded fixture: discarded by an operator');
    await waitStatus(events, retried, 'processed');
    await waitStatus(events, discarded, 'discarded');
    await worker.stop();

    return {
      'processed-first-try': processed,
      'processed-after-fallback': fallback,
      'parked-retried-processed': retried,
      'parked-discarded': discarded,
    };
  } finally {
    await api.close(1000);
  }
}

/** Records the replayEvents paths: completed, canary-stopped, cancelled. */
async function recordReplays(config: Config, store: Store, client: Client): Promise<Record<string, string>> {
  const events = new EventService(client);
  const replays = new ReplayService(client, config.temporal.taskQueue, store, eventArchiveFor(config));
  const api = await startApi({ config, client, store, logger: createLogger('warn') });
  const tuning: ReplayTuning = { pollIntervalMs: 200 };
  const closed = async (id: string): Promise<ReplayView> => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const desc = await client.workflow.getHandle(id).describe();
      if (desc.status.name !== 'RUNNING') {
        return replays.get(id);
      }
      if (Date.now() > deadline) throw new Error(`${id} did not close`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const started = (r: ReplayStart): string => {
    if (!('replay' in r)) throw new Error('the replay did not start');
    return r.replay;
  };
  try {
    const send = async (event: string): Promise<string> => {
      const req = mailgunExample({ signingKey: SIGNING_KEY, event });
      const res = await fetch(api.url + req.path, { method: 'POST', headers: req.headers, body: req.body });
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
      return ((await res.json()) as { id: string }).id;
    };
    let worker = await startWorker({ ...config, failpoints: [] }, store);
    const delivered = [await send('delivered'), await send('delivered'), await send('delivered')];
    const opened = [await send('opened'), await send('opened')];
    for (const id of [...delivered, ...opened]) await waitStatus(events, id, 'processed');

    const completed = started(
      await replays.start(
        { source: 'mailgun', type: 'delivered', reason: 'recorded fixture' },
        'admin',
        tuning,
      ),
    );
    if ((await closed(completed)).status !== 'completed') throw new Error('the replay did not complete');

    const cancelled = started(
      await replays.start(
        { source: 'mailgun', type: 'delivered', rate: 1, reason: 'recorded fixture: cancelled' },
        'admin',
        tuning,
      ),
    );
    const deadline = Date.now() + 60_000;
    while ((await replays.get(cancelled)).replayed < 1) {
      if (Date.now() > deadline) throw new Error('the rate-limited replay did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await replays.cancel(cancelled);
    if ((await closed(cancelled)).status !== 'cancelled') throw new Error('the replay was not cancelled');

    // "The bug is back": `opened` throws again; the canary's first run parks and stops the replay.
    await worker.stop();
    worker = await startWorker(config, store);
    const stopped = started(
      await replays.start(
        { source: 'mailgun', type: 'opened', canary: '1', reason: 'recorded fixture: canary' },
        'admin',
        tuning,
      ),
    );
    if ((await closed(stopped)).status !== 'stopped') throw new Error('the canary did not stop the replay');
    await worker.stop();
    // A replay that spans runs: one event a batch, two batches a run, three events. Its first run
    // ends in continue-as-new (named `<id>@<runId>` for the history below), its second completes.
    worker = await startWorker({ ...config, failpoints: [] }, store);
    const continued = started(
      await replays.start(
        { source: 'mailgun', type: 'delivered', reason: 'recorded fixture: runs' },
        'admin',
        {
          ...tuning,
          batchSize: 1,
          batchesPerRun: 2,
        },
      ),
    );
    const firstRun = (await client.workflow.getHandle(continued).describe()).runId;
    if ((await closed(continued)).status !== 'completed') throw new Error('the replay did not complete');
    await worker.stop();
    return {
      completed,
      'canary-stopped': stopped,
      cancelled,
      'continued-as-new': `${continued}@${firstRun}`,
      'continued-completed': continued,
    };
  } finally {
    await api.close(1000);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string' },
      prefix: { type: 'string', default: '' },
      replay: { type: 'boolean', default: false },
    },
  });
  const base = loadConfig();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-record-'));
  let server: DevServer | undefined;
  try {
    let address = values.address;
    if (!address) {
      const binary = await findTemporalCli({ explicitPath: base.temporal.cliPath, env: base.childEnv });
      address = `127.0.0.1:${await freePort()}`;
      server = await startDevServer({
        binary,
        address,
        dataDir: path.join(tmp, 'temporal'),
        headless: true,
        env: base.childEnv,
      });
    }
    const config: Config = {
      ...base,
      port: 0,
      host: '127.0.0.1',
      sources: { ...base.sources, mailgun: { signingKey: SIGNING_KEY } },
      enabledSources: ['mailgun'],
      encryptionKeys: undefined,
      failpoints: parseFailpoints('mailgun.handler=opened,mailgun.once=clicked'),
      retry: { maxAttempts: 2, initialIntervalMs: 100, maxIntervalMs: 200 },
      temporal: {
        ...base.temporal,
        address,
        namespace: 'default',
        taskQueue: `record-histories-${randomBytes(4).toString('hex')}`,
        env: { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default' },
      },
    };
    const store = await openStore({ dataDir: path.join(tmp, 'store') });
    const client = createClient(config);
    try {
      const ids = values.replay
        ? await recordReplays(config, store, client)
        : await record(config, store, client);
      const dir = values.replay ? path.join(OUT_DIR, 'replay') : OUT_DIR;
      fs.mkdirSync(dir, { recursive: true });
      for (const [name, ref] of Object.entries(ids)) {
        // `<workflowId>@<runId>` names one run; a bare id its latest.
        const [id, runId] = ref.split('@') as [string, string | undefined];
        const history = await client.workflow.getHandle(id, runId).fetchHistory();
        const file = path.join(dir, `${values.prefix}${name}.json`);
        fs.writeFileSync(file, JSON.stringify(historyJson(history), null, 2) + '\n');
        process.stdout.write(`${file}  (${history.events?.length ?? 0} events, ${id})\n`);
      }
    } finally {
      await client.connection.close();
      await store.close();
    }
  } finally {
    await server?.stop(3000);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`record-histories: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
