import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { presets } from '../../src/sources/presets';
import { cliEnv, run } from '../support/cli';
import { adminGet, post, startIntake, waitFor, type Intake } from '../support/harness';
import {
  OTHER_SECRETS,
  PROVIDER_SECRETS,
  SIGNATURE_HEADER,
  signAsProvider,
  TIMESTAMPED,
  type ProviderRequest,
} from '../support/provider-signing';

/**
 * Issue 22, must-show 1, 2 and 3 (second half) over HTTP, on the real Temporal dev server, real
 * PostgreSQL and a real local receiver:
 * - every preset accepts a request its provider's own library (or documented scheme) signed, and
 *   refuses a flipped body byte, a wrong secret, a stale timestamp and a missing signature with 401,
 *   storing nothing (no workflow, no archive row, no quarantined request, nothing delivered);
 * - a generic `hmac` entry (`{timestamp}.{body}`, a prefix, two rotating secrets) accepts either
 *   secret and refuses a timestamp outside its tolerance;
 * - an event parked by a receiver's 400 is delivered by `intake events retry --parked --source S`
 *   once the receiver is fixed.
 */
const DELIVERY_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const PRESETS = ['github', 'stripe', 'shopify', 'slack', 'standard-webhooks', 'mailgun'] as const;
const envName = (preset: string) => `SECRET_${preset.toUpperCase().replace(/-/g, '_')}`;
const ACME_OLD = 'acme-secret-being-retired';
const ACME_NEW = 'acme-secret-rolled-in';

describe('file sources over HTTP: every preset, a generic hmac entry, retry after the receiver is fixed', () => {
  let intake: Intake;
  let receiver: http.Server;
  let dir: string;
  let sourcesFile: string;
  /** The configuration's environment: the API's, and the operator's CLI's. */
  let env: Record<string, string>;
  const received: { path: string; id: string; status: number }[] = [];
  /** Per path, the status to answer (default 200). */
  const answer = new Map<string, number>();

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      req.resume().on('end', () => {
        const status = answer.get(req.url ?? '') ?? 200;
        received.push({ path: req.url ?? '', id: String(req.headers['webhook-id']), status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'bad request');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const deliver = (p: string) => ({ url: `${base}${p}`, secret: 'DELIVERY_SECRET' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-file-sources-http-'));
    sourcesFile = path.join(dir, 'sources.yaml');
    fs.writeFileSync(
      sourcesFile,
      stringify({
        sources: [
          ...PRESETS.map((p) => ({
            name: `p-${p}`,
            preset: p,
            secrets: [envName(p)],
            deliver: deliver(`/${p}`),
          })),
          {
            name: 'acme',
            secrets: ['ACME_OLD', 'ACME_NEW'],
            verify: {
              hmac: {
                algorithm: 'sha256',
                encoding: 'hex',
                header: 'X-Acme-Signature',
                prefix: 'sha256=',
                signedContent: '{timestamp}.{body}',
                timestampHeader: 'X-Acme-Timestamp',
                toleranceS: 300,
              },
            },
            eventId: { jsonPointer: '/id' },
            eventType: { jsonPointer: '/type' },
            deliver: deliver('/acme'),
          },
          { name: 'fixable', preset: 'github', secrets: [envName('github')], deliver: deliver('/fixable') },
        ],
      }),
    );
    env = {
      INTAKE_SOURCES_FILE: sourcesFile,
      DELIVERY_SECRET,
      ACME_OLD,
      ACME_NEW,
    };
    for (const p of PRESETS) env[envName(p)] = PROVIDER_SECRETS[p]!;
    intake = await startIntake({ store: 'postgres', env });
  }, 180_000);

  afterAll(async () => {
    await intake?.stop();
    await new Promise((r) => receiver?.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const count = async (sql: string, args: unknown[]) =>
    Number((await intake.store.query(sql, args)).rows[0]?.n);

  /** What a refused request may not have left behind: workflow, archive row, quarantine, delivery. */
  async function nothingStored(source: string, id: string) {
    const wf = `${source}:${id}`;
    expect((await adminGet(intake.url, `/events/${encodeURIComponent(wf)}`)).status).toBe(404);
    await expect(intake.client.workflow.getHandle(wf).describe()).rejects.toThrow();
    expect(await count('SELECT count(*)::int AS n FROM event_archive WHERE source = $1', [source])).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM rejected_events WHERE source = $1', [source])).toBe(0);
    expect(received.filter((r) => r.id === id)).toHaveLength(0);
  }

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

  const withoutSignature = (preset: string, req: ProviderRequest): ProviderRequest => {
    const h = SIGNATURE_HEADER[preset];
    if (h)
      return {
        body: req.body,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== h)),
      };
    // Mailgun carries its signature in the body.
    const doc = JSON.parse(req.body) as { signature: Record<string, string> };
    delete doc.signature.signature;
    return { body: JSON.stringify(doc), headers: req.headers };
  };

  it.each(PRESETS)(
    '%s: the provider-signed request is accepted and delivered; a flipped byte, a wrong secret, a stale timestamp and a missing signature are 401 and store nothing',
    async (preset) => {
      const source = `p-${preset}`;
      const { id, req } = await signed(preset);
      const broken: [string, ProviderRequest][] = [];
      // Mailgun signs timestamp + token: its signed bytes in the body are the token's.
      broken.push([
        'flipped byte',
        preset === 'mailgun'
          ? {
              ...req,
              body: req.body.replace(/"token":"(.)/, (_m, c: string) => `"token":"${c === 'a' ? 'b' : 'a'}`),
            }
          : { ...req, body: flipByte(req.body) },
      ]);
      // The same id and body, signed with another secret.
      const other = await signAsProvider(
        preset,
        OTHER_SECRETS[preset]!,
        req.body,
        stripSignature(preset, req),
      );
      broken.push(['wrong secret', other]);
      if (TIMESTAMPED.has(preset)) {
        const staleS = Math.floor(Date.now() / 1000) - 301;
        broken.push([
          'stale timestamp',
          await signAsProvider(
            preset,
            PROVIDER_SECRETS[preset]!,
            req.body,
            stripSignature(preset, req),
            staleS,
          ),
        ]);
      }
      broken.push(['missing signature', withoutSignature(preset, req)]);
      for (const [what, bad] of broken) {
        const res = await post(intake.url, { path: `/webhooks/${source}`, ...bad });
        expect([what, res.status, res.json]).toEqual([what, 401, { error: 'invalid_signature' }]);
      }
      await nothingStored(source, id);

      const res = await post(intake.url, { path: `/webhooks/${source}`, ...req });
      expect(res.status).toBe(presets.get(preset)!.successCode);
      expect(res.json).toEqual({ id: `${source}:${id}`, status: 'accepted' });
      await waitFor(async () => {
        const ev = await adminGet(intake.url, `/events/${encodeURIComponent(`${source}:${id}`)}`);
        return ev.json.status === 'processed';
      }, 90_000);
      expect(received.filter((r) => r.path === `/${preset}` && r.id === id)).toHaveLength(1);
    },
  );

  /** The body with one byte of its first string value flipped (a letter's case): still JSON. */
  function flipByte(body: string): string {
    const at = body.search(/":"[A-Za-z]/) + 3;
    const b = Buffer.from(body);
    b[at] = b[at]! ^ 0x20;
    return b.toString();
  }

  /** The request's provider headers without its signature (and timestamp) headers: to sign anew. */
  function stripSignature(preset: string, req: ProviderRequest): Record<string, string> {
    const drop = new Set([SIGNATURE_HEADER[preset], 'x-slack-request-timestamp', 'webhook-timestamp']);
    return Object.fromEntries(Object.entries(req.headers).filter(([k]) => !drop.has(k)));
  }

  it.each(PRESETS)(
    '`intake send p-%s --example` posts a sample signed with the configured secret; it is delivered',
    async (preset) => {
      const out = await run(
        path.join(__dirname, '../../node_modules/.bin/tsx'),
        ['src/cli/main.ts', 'send', `p-${preset}`, '--example'],
        { ...cliEnv(intake.config), ...env, INTAKE_API_URL: intake.url },
        120_000,
      );
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      const status = presets.get(preset)!.successCode;
      const m = new RegExp(
        `^${status} \\{"id":"(p-${preset}:(example-[0-9a-f-]+))","status":"accepted"\\}$`,
        'm',
      ).exec(out.stdout);
      expect(m).not.toBeNull();
      const [, workflowId, eventId] = m!;
      expect(out.stdout).toContain(`Event id: ${workflowId}`);
      expect(out.stdout).toContain(`See it: npx intake events show '${workflowId}'`);
      expect(out.stdout).toContain(`${intake.url}/events/${encodeURIComponent(workflowId!)}`);
      expect(out.stdout).toMatch(new RegExp(`^Delivered to: http://127\\.0\\.0\\.1:\\d+/${preset}$`, 'm'));
      expect(out.stdout).not.toContain('Processed data');
      await waitFor(
        async () => received.some((r) => r.path === `/${preset}` && r.id === eventId && r.status === 200),
        90_000,
        `the ${preset} example delivered`,
      );
    },
  );

  describe('a generic hmac entry: {timestamp}.{body}, prefix sha256=, two rotating secrets, 300 s', () => {
    const acme = (secret: string, ts: number, id = `acme-${Math.random().toString(36).slice(2)}`) => {
      const body = JSON.stringify({ id, type: 'invoice.paid', amount: 4200 });
      const sig = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
      return {
        id,
        req: {
          path: '/webhooks/acme',
          body,
          headers: {
            'content-type': 'application/json',
            'x-acme-timestamp': String(ts),
            'x-acme-signature': `sha256=${sig}`,
          },
        },
      };
    };
    const now = () => Math.floor(Date.now() / 1000);

    it('accepts a request signed with either secret and delivers both', async () => {
      const byOld = acme(ACME_OLD, now());
      const byNew = acme(ACME_NEW, now() - 250);
      for (const { id, req } of [byOld, byNew]) {
        const res = await post(intake.url, req);
        expect([res.status, res.json]).toEqual([200, { id: `acme:${id}`, status: 'accepted' }]);
      }
      await waitFor(
        async () => [byOld, byNew].every(({ id }) => received.some((r) => r.path === '/acme' && r.id === id)),
        90_000,
        'both acme events delivered',
      );
    });

    it('refuses outside its tolerance (past and future), without the prefix, and with a third secret', async () => {
      const ts = now();
      const bad = [acme(ACME_OLD, ts - 301), acme(ACME_NEW, ts + 301), acme('not-one-of-the-two', ts)];
      const { id, req } = acme(ACME_NEW, ts);
      const unprefixed = {
        id,
        req: {
          ...req,
          headers: { ...req.headers, 'x-acme-signature': req.headers['x-acme-signature'].slice(7) },
        },
      };
      for (const b of [...bad, unprefixed]) {
        const res = await post(intake.url, b.req);
        expect([res.status, res.json]).toEqual([401, { error: 'invalid_signature' }]);
        expect((await adminGet(intake.url, `/events/${encodeURIComponent(`acme:${b.id}`)}`)).status).toBe(
          404,
        );
        expect(received.filter((r) => r.id === b.id)).toHaveLength(0);
      }
    });
  });

  it('a 400 parks the event; once the receiver is fixed, `intake events retry --parked --source fixable` delivers it', async () => {
    answer.set('/fixable', 400);
    const { id, req } = await signed('github');
    expect((await post(intake.url, { path: '/webhooks/fixable', ...req })).status).toBe(200);
    const wf = encodeURIComponent(`fixable:${id}`);
    await waitFor(async () => (await adminGet(intake.url, `/events/${wf}`)).json.status === 'parked', 90_000);
    expect(received.filter((r) => r.id === id).map((r) => r.status)).toEqual([400]);

    answer.delete('/fixable'); // the receiver is fixed
    const out = await run(
      path.join(__dirname, '../../node_modules/.bin/tsx'),
      ['src/cli/main.ts', 'events', 'retry', '--parked', '--source', 'fixable'],
      {
        ...cliEnv(intake.config),
        ...env,
      },
      120_000,
    );
    expect(out.stderr).not.toMatch(/intake:/);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/matched 1 parked event\(s\) of fixable/);
    const ev = await waitFor(async () => {
      const e = await adminGet(intake.url, `/events/${wf}`);
      return e.json.status === 'processed' && e.json;
    }, 120_000);
    expect(ev.lastError).toBeNull();
    expect(received.filter((r) => r.id === id).map((r) => r.status)).toEqual([400, 200]);
  });
});
