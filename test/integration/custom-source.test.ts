import { timingSafeEqual } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';
import { exampleRequest } from '../../src/cli/send';
import { optionalString } from '../../src/config/env-values';
import { InvalidSignatureError } from '../../src/errors';
import { markProcessed } from '../../src/store/ledger';
import type { Source, SourceDefinition } from '../../src/sources/types';
import { settingsOf } from '../../src/sources/types';
import { acceptRequest, type RequestSteps } from '../../src/sources/accept';
import { adminGet, post, startIntake, waitFor, type Intake } from '../support/harness';

/**
 * "Adding a source is one file plus one activity": a throw-away source, defined here and added
 * through the registry alone (the harness registers it before config, API and worker are built),
 * runs end to end: its variable is read by the config, `intake send`'s example comes from it, the
 * API serves its route, the worker runs its activity on the real Temporal dev server, and the
 * processing writes through the shared ledger into a real store.
 */
const NAME = `memo${process.pid}`;
const TOKEN_VARIABLE = `INTAKE_TEST_${NAME.toUpperCase()}_TOKEN`;
const TOKEN = 'memo-token-0123456789';

const memoSchema = z.object({ id: z.string().min(1).max(64), text: z.string().max(256) });
type Memo = z.infer<typeof memoSchema>;

/** How a memo request is verified and identified. */
const memoSteps: RequestSteps<Memo> = {
  verifyRaw(req, { config }) {
    const given = Buffer.from(String(req.headers['x-memo-token'] ?? ''));
    const expected = Buffer.from(settingsOf(config, memoSource).token ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new InvalidSignatureError('wrong memo token');
  },
  identify: (memo) => ({ eventId: memo.id, eventType: 'memo', entity: memo.id }),
};

const memoSource: SourceDefinition<Memo, { token?: string }> = {
  name: NAME,
  route: NAME,
  activity: `handle${NAME}`,
  successStatus: 202,
  env: { [TOKEN_VARIABLE]: optionalString },
  settings: (env) => ({ token: env[TOKEN_VARIABLE] as string | undefined }),
  secretVariable: TOKEN_VARIABLE,
  hasSecrets: (s) => !!s.token,
  devSecrets: () => ({ [TOKEN_VARIABLE]: 'generated-memo-token' }),
  example: ({ token }, { event }) => {
    if (!token) throw new Error(`${TOKEN_VARIABLE} is not set`);
    const id = `memo-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    return {
      request: {
        path: `/webhooks/${NAME}`,
        headers: { 'content-type': 'application/json', 'x-memo-token': token },
        body: JSON.stringify({ id, text: event ?? 'hello' }),
      },
      read: { label: 'Memo id', id, path: `/memos/${id}` },
    };
  },
  schema: memoSchema,
  accept(req, ctx, opts) {
    return acceptRequest(memoSteps, this.schema, req, ctx, opts);
  },
};

const WFT_STARTED = temporal.api.enums.v1.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED;

/** A memo whose text is `hold` waits in its handler until the test releases it. */
let release: () => void = () => undefined;
const held = new Promise<void>((resolve) => (release = resolve));

/** The memo source's activity: the ledger plus one row per memo, in one transaction. */
const processMemo: Source<Memo, { token?: string }>['process'] = (store) => async (input) => {
  const memo = memoSchema.parse(input.payload);
  if (memo.text === 'hold') await held;
  return store.tx(async (q) => {
    if (!(await markProcessed(q, input.id, input.source, input.eventType))) return { applied: false };
    await q.query('INSERT INTO memo_test (id, text) VALUES ($1, $2)', [memo.id, memo.text]);
    return { applied: true };
  });
};

describe('a source added through the registry alone', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({
      store: 'pglite',
      env: { [TOKEN_VARIABLE]: TOKEN },
      sources: [
        {
          definition: memoSource as SourceDefinition<never, never>,
          process: processMemo as Source<never, never>['process'],
        },
      ],
    });
    // The throw-away source's table (a real source ships a migration).
    await intake.store.query('CREATE TABLE memo_test (id text PRIMARY KEY, text text NOT NULL)');
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('reads its variable, sends its example, and processes it on the worker', async () => {
    expect(intake.config.sources[NAME]).toEqual({ token: TOKEN });
    const { request, read } = exampleRequest(intake.config, NAME, { event: 'first memo' });
    const res = await post(intake.url, request);
    expect(res.status).toBe(202);
    const id = `${NAME}:${read.id}`;
    expect(res.json).toEqual({ id, status: 'accepted' });

    const view = await waitFor(async () => {
      const r = await adminGet(intake.url, `/events/${encodeURIComponent(id)}`);
      return r.json.status === 'processed' ? r.json : undefined;
    });
    expect(view).toMatchObject({ id, source: NAME, eventType: 'memo', attempts: 1 });
    const rows = await intake.store.query('SELECT text FROM memo_test WHERE id = $1', [read.id]);
    expect(rows.rows).toEqual([{ text: 'first memo' }]);

    // Same event again: a duplicate, nothing processed twice.
    const again = await post(intake.url, request);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ id, status: 'duplicate' });
  });

  it('shows processing, not queued, while its quick (local) attempt runs', async () => {
    const { request, read } = exampleRequest(intake.config, NAME, { event: 'hold' });
    expect((await post(intake.url, request)).status).toBe(202);
    const id = `${NAME}:${read.id}`;
    const path = `/events/${encodeURIComponent(id)}`;
    try {
      // A worker has taken the event's workflow task and runs the quick attempt inside it.
      const handle = intake.client.workflow.getHandle(id);
      await waitFor(async () => (await handle.describe()).raw.pendingWorkflowTask?.state === WFT_STARTED);
      // The attempt holds that task, so the status query waits (until the task's heartbeat, seconds
      // later) and the API answers from the server's view, where IntakeStatus still says `queued`
      // until the event settles. Either way the answer must be `processing`.
      const during = await adminGet(intake.url, path);
      expect(during.json).toMatchObject({ id, status: 'processing' });
    } finally {
      release();
    }
    const view = await waitFor(async () => {
      const r = await adminGet(intake.url, path);
      return r.json.status === 'processed' ? r.json : undefined;
    });
    // Still the first (local) attempt: `processing` was seen before any fallback wrote it.
    expect(view).toMatchObject({ id, status: 'processed', attempts: 1 });
  });

  it('refuses a request its verification rejects', async () => {
    const { request } = exampleRequest(intake.config, NAME, {});
    const res = await post(intake.url, {
      ...request,
      headers: { ...request.headers, 'x-memo-token': 'nope' },
    });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: 'invalid_signature' });
  });
});
