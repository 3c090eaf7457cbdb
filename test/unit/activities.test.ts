import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { processMailgun } from '../../activities/mailgun';
import { processPartners } from '../../activities/partners';
import { runHandler, type HandlerObserver } from '../../activities/run-handler';
import { parseFailpoints } from '../../src/worker/failpoints';
import { mailgunExample } from '../../src/sources/mailgun';
import { partnerExample } from '../../src/sources/partners';
import { getCustomer } from '../../src/store/customers-repo';
import { getMessage } from '../../src/store/messages-repo';
import { openStore, type Store } from '../../src/store/store';
import type { HandlerInput } from '../../workflows/types';

/**
 * The handler activities in an activity context (MockActivityEnvironment), against a real store:
 * embedded PGlite, in-process, migrated like production. No Temporal server: the pure logic of one
 * attempt (ledger, state folding, last-write-wins, retry classification, failpoints).
 */
let store: Store;
let dataDir: string;
let seq = 0;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-activities-'));
  store = await openStore({ dataDir });
}, 180_000);

afterAll(async () => {
  await store?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

// The SDK's activity logger would print every expected failure; the assertions cover them.
const quiet = new DefaultLogger('ERROR', () => undefined);
const mockEnv = (info: { attempt?: number } = {}) => new MockActivityEnvironment(info, { logger: quiet });

const uid = (prefix: string) => `${prefix}-${process.pid}-${++seq}`;

function mailgunInput(
  over: { eventId?: string; event?: string; messageId?: string; timestamp?: number } = {},
) {
  const eventId = over.eventId ?? uid('ev');
  const req = mailgunExample({
    signingKey: 'k',
    eventId,
    event: over.event,
    messageId: over.messageId,
    timestamp: over.timestamp,
  });
  const payload = JSON.parse(req.body) as {
    'event-data': { event: string; message: { headers: Record<string, string> } };
  };
  return {
    id: `mailgun:${eventId}`,
    source: 'mailgun',
    eventId,
    eventType: payload['event-data'].event,
    entity: payload['event-data'].message.headers['message-id']!,
    payload,
    params: {},
    receivedAt: new Date().toISOString(),
  } satisfies HandlerInput;
}

function partnerInput(
  customerId: string,
  updatedAt: string,
  fields: Record<string, unknown> = {},
): HandlerInput {
  const webhookId = uid('msg');
  const req = partnerExample({
    partner: 'acme',
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    customerId,
    updatedAt,
    webhookId,
    fields,
  });
  return {
    id: `partners:acme:${webhookId}`,
    source: 'partners',
    eventId: `acme:${webhookId}`,
    eventType: 'customer.upserted',
    entity: `acme:${customerId}`,
    payload: JSON.parse(req.body),
    params: { partner: 'acme' },
    receivedAt: new Date().toISOString(),
  };
}

/** The ApplicationFailure an activity threw. */
async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApplicationFailure))
    throw new Error(`expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

describe('handleMailgun (processMailgun under runHandler)', () => {
  const handler = () => runHandler(processMailgun(store), []);

  it('records the event once, folds it into its message and reports the attempt', async () => {
    const input = mailgunInput({ event: 'delivered' });
    const first = await mockEnv({ attempt: 3 }).run(handler(), input);
    expect(first).toEqual({ attempt: 3, applied: true });
    const again = await mockEnv().run(handler(), input);
    expect(again).toEqual({ attempt: 1, applied: false });
    const message = await getMessage(store, input.entity);
    expect(message).toMatchObject({
      state: 'delivered',
      events: [{ id: input.eventId, event: 'delivered' }],
    });
    const ledger = await store.query('SELECT count(*)::int AS n FROM processed_events WHERE id = $1', [
      input.id,
    ]);
    expect(ledger.rows[0]?.n).toBe(1);
  });

  it('keeps the newest state when an older event arrives late', async () => {
    const messageId = `${uid('m')}@mg.example.com`;
    const now = Math.floor(Date.now() / 1000);
    await mockEnv().run(handler(), mailgunInput({ messageId, event: 'opened', timestamp: now }));
    await mockEnv().run(handler(), mailgunInput({ messageId, event: 'delivered', timestamp: now - 60 }));
    expect(await getMessage(store, messageId)).toMatchObject({ state: 'opened', openedCount: 1 });
  });

  it('fails without retry (PermanentProcessingError) when the payload no longer matches the schema', async () => {
    const input = { ...mailgunInput(), payload: { 'event-data': {} } };
    const failure = await failureOf(mockEnv().run(handler(), input));
    expect(failure).toMatchObject({ type: 'PermanentProcessingError', nonRetryable: true });
    const ledger = await store.query('SELECT count(*)::int AS n FROM processed_events WHERE id = $1', [
      input.id,
    ]);
    expect(ledger.rows[0]?.n).toBe(0);
  });

  it('fails retryably under a handler failpoint and tells the observer', async () => {
    const outcomes: string[] = [];
    const observer: HandlerObserver = { onAttempt: (_input, outcome) => outcomes.push(outcome) };
    const act = runHandler(processMailgun(store), parseFailpoints('mailgun.handler=opened'), observer);
    const failure = await failureOf(mockEnv().run(act, mailgunInput({ event: 'opened' })));
    expect(failure).toMatchObject({ nonRetryable: false, message: 'failpoint mailgun.handler' });
    // Another event type is not affected.
    await expect(mockEnv().run(act, mailgunInput({ event: 'clicked' }))).resolves.toMatchObject({
      applied: true,
    });
    expect(outcomes).toEqual(['retryable', 'ok']);
  });
});

describe('handlePartners (processPartners under runHandler)', () => {
  const handler = () => runHandler(processPartners(store), []);

  it('applies last-write-wins by updatedAt: an older event is processed but does not overwrite', async () => {
    const customerId = uid('cus');
    const newer = partnerInput(customerId, '2026-01-02T00:00:00.000Z', { name: 'New' });
    const older = partnerInput(customerId, '2026-01-01T00:00:00.000Z', { name: 'Old' });
    await expect(mockEnv().run(handler(), newer)).resolves.toEqual({
      attempt: 1,
      applied: true,
    });
    await expect(mockEnv().run(handler(), older)).resolves.toEqual({
      attempt: 1,
      applied: true,
    });
    // A redelivery of the older event changes nothing: the ledger already has it.
    await expect(mockEnv().run(handler(), older)).resolves.toEqual({
      attempt: 1,
      applied: false,
    });
    const customer = await getCustomer(store, 'acme', customerId);
    expect(customer).toMatchObject({ deleted: false, updatedAt: '2026-01-02T00:00:00.000Z' });
    expect(customer?.data).toMatchObject({ name: 'New' });
  });

  it('fails without retry when the event has no partner parameter', async () => {
    const input = { ...partnerInput(uid('cus'), '2026-01-01T00:00:00.000Z'), params: {} };
    const failure = await failureOf(mockEnv().run(handler(), input));
    expect(failure).toMatchObject({ type: 'PermanentProcessingError', nonRetryable: true });
  });

  it('turns a store data error into a permanent failure without the value in its message', async () => {
    // A value PostgreSQL cannot hold (a timestamp past its range), as a processing bug would write it.
    const input = partnerInput(uid('cus'), '2026-01-01T00:00:00.000Z');
    const failure = await failureOf(
      mockEnv().run(
        runHandler(async () => {
          await store.query('SELECT $1::timestamptz', ['294277-01-01T00:00:00.000Z']);
          return { applied: true };
        }, []),
        input,
      ),
    );
    expect(failure).toMatchObject({ type: 'PermanentProcessingError', nonRetryable: true });
    expect(failure.message).not.toContain('294277');
  });
});

describe('runHandler heartbeats (issue 10: an attempt no live worker runs must not wait for its whole timeout)', () => {
  /** Heartbeats the wrapper sent while `process` moved the (fake) clock by 1 s, and after it returned. */
  async function heartbeats(info: { isLocal: boolean; heartbeatTimeoutMs?: number }) {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const env = new MockActivityEnvironment(info, { logger: quiet });
      let sent = 0;
      env.on('heartbeat', () => sent++);
      const act = runHandler(async () => {
        jest.advanceTimersByTime(1000);
        return { applied: true };
      }, []);
      await expect(env.run(act, mailgunInput())).resolves.toEqual({ attempt: 1, applied: true });
      const during = sent;
      jest.advanceTimersByTime(5000);
      return { during, after: sent - during };
    } finally {
      jest.useRealTimers();
    }
  }

  it('heartbeats every third of the heartbeat timeout while a regular attempt works, and stops after', async () => {
    expect(await heartbeats({ isLocal: false, heartbeatTimeoutMs: 300 })).toEqual({ during: 10, after: 0 });
  });

  it('sends none in a local attempt or without a heartbeat timeout', async () => {
    expect(await heartbeats({ isLocal: true, heartbeatTimeoutMs: 300 })).toEqual({ during: 0, after: 0 });
    expect(await heartbeats({ isLocal: false })).toEqual({ during: 0, after: 0 });
  });
});
