import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { stringify } from 'yaml';
import { presets } from '../../src/sources/presets';
import { adminGet, post, startIntake, waitFor, type Intake } from '../support/harness';
import { PROVIDER_SECRETS, signAsProvider } from '../support/provider-signing';

/**
 * Sources from a file, end to end on the real Temporal dev server: a preset-verified request is
 * delivered byte-identical to a real local receiver with Intake's Standard Webhooks signature;
 * refused requests store nothing; 503s are retried under the same webhook-id; a 400 parks at once;
 * Slack's url_verification is answered with its challenge and starts nothing.
 */
const DELIVERY_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('file sources: verification and delivery', () => {
  let intake: Intake;
  let receiver: http.Server;
  let dir: string;
  const received: Received[] = [];
  /** Per path, the statuses to answer in turn (then 200). */
  const script = new Map<string, number[]>();

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const status = script.get(req.url ?? '')?.shift() ?? 200;
        res
          .writeHead(status, { 'content-type': 'text/plain' })
          .end(status === 200 ? 'ok' : `refused ${status}`);
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-file-sources-'));
    const deliver = (p: string) => ({ url: `${base}${p}`, secret: 'DELIVERY_SECRET' });
    const sources = [
      ...['github', 'stripe', 'shopify', 'slack', 'standard-webhooks', 'mailgun'].map((name) => ({
        name: `in-${name}`,
        preset: name,
        secrets: [`SECRET_${name.toUpperCase().replace(/-/g, '_')}`],
        deliver: deliver(`/${name}`),
      })),
      { name: 'flaky', preset: 'github', secrets: ['SECRET_GITHUB'], deliver: deliver('/flaky') },
      { name: 'broken', preset: 'github', secrets: ['SECRET_GITHUB'], deliver: deliver('/broken') },
    ];
    const file = path.join(dir, 'sources.yaml');
    fs.writeFileSync(file, stringify({ sources }));
    const env: Record<string, string> = {
      INTAKE_SOURCES_FILE: file,
      DELIVERY_SECRET,
      INTAKE_RETRY_MAX_ATTEMPTS: '10',
    };
    for (const [name, secret] of Object.entries(PROVIDER_SECRETS))
      env[`SECRET_${name.toUpperCase().replace(/-/g, '_')}`] = secret;
    intake = await startIntake({ store: 'postgres', env });
  }, 180_000);

  afterAll(async () => {
    await intake?.stop();
    await new Promise((r) => receiver?.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The preset's sample with a fresh event id, signed as the provider signs it. */
  async function signed(preset: string, secret = PROVIDER_SECRETS[preset]!, ts?: number) {
    const p = presets.get(preset)!;
    const id = `ev-${Math.random().toString(36).slice(2)}`;
    const body = structuredClone(p.example.body) as Record<string, unknown>;
    const headers = { ...p.example.headers };
    if ('header' in p.eventId) headers[p.eventId.header] = id;
    else {
      const tokens = p.eventId.jsonPointer.split('/').slice(1);
      let cur = body;
      tokens.slice(0, -1).forEach((t) => (cur = cur[t] as Record<string, unknown>));
      cur[tokens.at(-1)!] = id;
    }
    return { id, req: await signAsProvider(preset, secret, JSON.stringify(body), headers, ts) };
  }

  const deliveriesOf = (p: string, id: string) =>
    received.filter((r) => r.path === p && r.headers['webhook-id'] === id);

  it.each(['github', 'stripe', 'shopify', 'slack', 'standard-webhooks', 'mailgun'])(
    '%s: library-signed is accepted and delivered byte-identical; broken requests are 401 and store nothing',
    async (preset) => {
      const source = `in-${preset}`;
      const { id, req } = await signed(preset);
      // Broken copies first: nothing may be stored under this id.
      const wrong = await signed(
        preset,
        preset === 'standard-webhooks' ? 'whsec_QW5vdGhlclNlY3JldEZvclJvdGF0aW9uMTIz' : 'wrong',
      );
      // Mailgun signs timestamp + token (in the body), not event-data: its signed byte is the token's.
      const flipped =
        preset === 'mailgun'
          ? { ...req, body: req.body.replace('"token":"a', '"token":"b') }
          : { ...req, body: req.body.replace('"', ' "') };
      const wrongSecret = preset === 'mailgun' ? wrong.req : { ...wrong.req, body: req.body };
      for (const bad of [flipped, wrongSecret]) {
        const res = await post(intake.url, { path: `/webhooks/${source}`, ...bad });
        expect([res.status, res.json]).toEqual([401, { error: 'invalid_signature' }]);
      }
      expect((await adminGet(intake.url, `/events/${encodeURIComponent(`${source}:${id}`)}`)).status).toBe(
        404,
      );

      const res = await post(intake.url, { path: `/webhooks/${source}`, ...req });
      expect(res.status).toBe(presets.get(preset)!.successCode);
      expect(res.json).toEqual({ id: `${source}:${id}`, status: 'accepted' });
      const [got] = await waitFor(
        async () => deliveriesOf(`/${preset}`, id).length > 0 && deliveriesOf(`/${preset}`, id),
        90_000,
      );
      expect(got!.body).toBe(req.body);
      expect(got!.headers['content-type']).toBe('application/json');
      expect(got!.headers['intake-source']).toBe(source);
      const hdrs = got!.headers as Record<string, string>;
      expect(() => new Webhook(DELIVERY_SECRET).verify(got!.body, hdrs)).not.toThrow();
      await waitFor(async () => {
        const ev = await adminGet(intake.url, `/events/${encodeURIComponent(`${source}:${id}`)}`);
        return ev.json.status === 'processed';
      }, 90_000);
    },
  );

  it('a receiver answering 503 three times, then 200: delivered once processed, the same webhook-id 4 times', async () => {
    const { id, req } = await signed('github');
    script.set('/flaky', [503, 503, 503]);
    expect((await post(intake.url, { path: '/webhooks/flaky', ...req })).status).toBe(200);
    const ev = await waitFor(async () => {
      const e = await adminGet(intake.url, `/events/${encodeURIComponent(`flaky:${id}`)}`);
      return e.json.status === 'processed' && e.json;
    }, 120_000);
    expect(ev.attempts).toBe(4);
    const seen = deliveriesOf('/flaky', id);
    expect(seen).toHaveLength(4);
    for (const s of seen)
      expect(() =>
        new Webhook(DELIVERY_SECRET).verify(s.body, s.headers as Record<string, string>),
      ).not.toThrow();
  });

  it('a receiver answering 400 parks the event at once, with the status and the answer as lastError', async () => {
    const { id, req } = await signed('github');
    script.set('/broken', [400]);
    expect((await post(intake.url, { path: '/webhooks/broken', ...req })).status).toBe(200);
    const ev = await waitFor(async () => {
      const e = await adminGet(intake.url, `/events/${encodeURIComponent(`broken:${id}`)}`);
      return e.json.status === 'parked' && e.json;
    }, 90_000);
    expect(ev.attempts).toBe(1);
    expect(String(ev.lastError)).toContain('HTTP 400: refused 400');
    expect(String(ev.lastError)).not.toContain(req.body);
  });

  it("answers Slack's url_verification with its challenge and starts nothing", async () => {
    const body = JSON.stringify({
      token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
      challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
      type: 'url_verification',
    });
    const req = await signAsProvider('slack', PROVIDER_SECRETS.slack!, body, {});
    const before = received.length;
    const res = await post(intake.url, { path: '/webhooks/in-slack', ...req });
    expect(res.status).toBe(200);
    expect(res.text).toBe('3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P');
    const list = await adminGet(intake.url, '/admin/events?source=in-slack&limit=100');
    expect(JSON.stringify(list.json)).not.toContain('url_verification');
    expect(received.length).toBe(before);
    // An unsigned challenge is refused: the handshake proves the secret.
    expect(
      (
        await post(intake.url, {
          path: '/webhooks/in-slack',
          headers: { 'content-type': 'application/json' },
          body,
        })
      ).status,
    ).toBe(401);
  });
});
