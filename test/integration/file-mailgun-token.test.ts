import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startIntake, TEST_MAILGUN_KEY, type Intake } from '../support/harness';
import { mailgunRequest, send, type Json } from '../support/requests';

/**
 * Issue 19: the file `mailgun` preset did not bind Mailgun's token (the signature covers only
 * timestamp + token), so a captured signature block with forged event-data was accepted and
 * delivered, through the quarantine or straight. It binds tokens like the built-in source now.
 */
const PATH = '/webhooks/in-mailgun';
const asFileSource = <T extends { path: string }>(r: T): T => ({ ...r, path: PATH });
const eventData = (b: Json) => b['event-data'] as Json;
/** The signed request `base` re-sent with its signature block and other event-data. */
const withSignatureOf = (base: ReturnType<typeof mailgunRequest>, other: ReturnType<typeof mailgunRequest>) =>
  asFileSource({ ...other, body: JSON.stringify({ ...other.json, signature: base.json.signature }) });

describe('file mailgun preset: a signature block binds its token', () => {
  let intake: Intake;
  let receiver: http.Server;
  let dir: string;
  const delivered: string[] = [];

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      delivered.push(String(req.headers['webhook-id']));
      req.resume().on('end', () => res.writeHead(200).end('ok'));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-file-mailgun-'));
    // A schema that refuses an unknown severity: such a request is signed, refused and quarantined.
    fs.writeFileSync(
      path.join(dir, 'mailgun.json'),
      JSON.stringify({
        type: 'object',
        properties: {
          'event-data': {
            type: 'object',
            properties: { severity: { enum: ['permanent', 'temporary'] } },
          },
        },
      }),
    );
    const file = path.join(dir, 'sources.yaml');
    fs.writeFileSync(
      file,
      stringify({
        sources: [
          {
            name: 'in-mailgun',
            preset: 'mailgun',
            secrets: ['MG_FILE_KEY'],
            schema: 'mailgun.json',
            deliver: {
              url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/mailgun`,
              secret: 'DELIVERY_SECRET',
            },
          },
        ],
      }),
    );
    intake = await startIntake({
      store: 'postgres',
      env: {
        INTAKE_SOURCES_FILE: file,
        MG_FILE_KEY: TEST_MAILGUN_KEY,
        DELIVERY_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      },
    });
  }, 180_000);

  afterAll(async () => {
    await intake?.stop();
    await new Promise((r) => receiver?.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const rejectedRows = async () =>
    (
      await intake.store.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM rejected_events WHERE source = 'in-mailgun'",
      )
    ).rows[0]!.n;

  it('refuses a quarantined request’s signature block with forged event-data (401), storing nothing', async () => {
    const real = mailgunRequest({ mutate: (b) => (eventData(b).severity = 'soft') });
    expect((await send(intake.url, asFileSource(real))).status).toBe(422);
    expect(await rejectedRows()).toBe(1);

    const forged = withSignatureOf(real, mailgunRequest({ event: 'unsubscribed' }));
    const answer = await send(intake.url, forged);
    expect([answer.status, answer.json]).toEqual([401, { error: 'invalid_signature' }]);
    const sameId = withSignatureOf(real, mailgunRequest({ eventId: real.eventId, event: 'unsubscribed' }));
    expect((await send(intake.url, sameId)).status).toBe(401);
    // The real request again is the same quarantined event, not a forgery.
    expect((await send(intake.url, asFileSource(real))).status).toBe(422);
    expect(await rejectedRows()).toBe(1);
    const started = await intake.client.workflow.count(`TaskQueue="${intake.config.temporal.taskQueue}"`);
    expect(started.count).toBe(0);
  });

  it('refuses an accepted request’s signature block with another event id (401); a redelivery is a duplicate', async () => {
    const real = mailgunRequest();
    const first = await send(intake.url, asFileSource(real));
    expect([first.status, first.json]).toEqual([
      200,
      { id: `in-mailgun:${real.eventId}`, status: 'accepted' },
    ]);
    const forged = withSignatureOf(real, mailgunRequest({ event: 'unsubscribed' }));
    expect((await send(intake.url, forged)).status).toBe(401);
    const again = await send(intake.url, asFileSource(real));
    expect([again.status, again.json]).toEqual([
      200,
      { id: `in-mailgun:${real.eventId}`, status: 'duplicate' },
    ]);
    const forgedId = `in-mailgun:${(JSON.parse(forged.body) as { 'event-data': { id: string } })['event-data'].id}`;
    await expect(intake.client.workflow.getHandle(forgedId).describe()).rejects.toThrow();
  });
});
