import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import { presets } from '../../src/sources/presets';
import type { SignedBody } from './mailgun-bodies';

const GITHUB_SECRET = 'bench-github-secret-0123456789';
const DELIVERY_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

/** A file source for the drain bench: its environment, signed bodies and the receiver's count. */
export interface FileSourceBench {
  /** INTAKE_SOURCES_FILE and the secrets it names, for intake api and worker. */
  env: Record<string, string>;
  signedBodies(n: number): SignedBody[];
  /** Distinct webhook-ids the receiver has answered 200. */
  delivered(): number;
  close(): Promise<void>;
}

/**
 * A `preset: github` file source named `gh`, delivering to a receiver in this process that answers
 * 200 at once (no verification: that is Intake's cost, not the receiver's). Bodies are GitHub's
 * documented sample, signed as GitHub signs (hex HMAC-SHA256 of the body), each with its own
 * X-GitHub-Delivery id.
 */
export async function fileSourceBench(dir: string): Promise<FileSourceBench> {
  const seen = new Set<string>();
  const receiver = http.createServer((req, res) => {
    req.resume().on('end', () => {
      seen.add(String(req.headers['webhook-id']));
      res.end('ok');
    });
  });
  receiver.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/github`;
  const file = path.join(dir, `sources-${randomBytes(3).toString('hex')}.yaml`);
  fs.writeFileSync(
    file,
    stringify({
      sources: [
        {
          name: 'gh',
          preset: 'github',
          secrets: ['BENCH_GITHUB_SECRET'],
          deliver: { url, secret: 'BENCH_DELIVERY_SECRET' },
        },
      ],
    }),
  );
  const sample = presets.get('github')!.example;
  return {
    env: {
      INTAKE_SOURCES_FILE: file,
      BENCH_GITHUB_SECRET: GITHUB_SECRET,
      BENCH_DELIVERY_SECRET: DELIVERY_SECRET,
    },
    signedBodies(n) {
      return Array.from({ length: n }, (_, i) => {
        const eventId = randomUUID();
        const body = JSON.stringify({ ...sample.body, n: i });
        return {
          id: `gh:${eventId}`,
          eventId,
          body,
          path: '/webhooks/gh',
          headers: {
            ...sample.headers,
            'content-type': 'application/json',
            'X-GitHub-Event': 'push',
            'X-GitHub-Delivery': eventId,
            'X-Hub-Signature-256': `sha256=${createHmac('sha256', GITHUB_SECRET).update(body).digest('hex')}`,
          },
        };
      });
    },
    delivered: () => seen.size,
    close: () => new Promise((r) => receiver.close(() => r())),
  };
}
