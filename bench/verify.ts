/**
 * `npm run bench:verify`: what verifying one request costs per preset, in µs, in one run (so the
 * figures compare on a busy machine). Each preset is a sources-file entry (loaded by the same code as
 * INTAKE_SOURCES_FILE) with one secret; its `intake send --example` request is verified
 * `--requests` times after a warm-up through the source's `accept` (what the ingress asks: signature,
 * JSON, schema, identity), and again as already verified; the difference is the signature's cost. A generic `hmac` entry with `{timestamp}.{body}`
 * and two rotating secrets (the example signs with the first) is measured alongside.
 *
 *   npm run bench:verify -- --requests 20000
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { loadSourcesFile } from '../src/sources/file/load';
import type { SourceRequest } from '../src/sources/types';
import { writeResultFile } from './lib/results';

const PRESETS = ['github', 'stripe', 'shopify', 'slack', 'standard-webhooks', 'mailgun'];
const SECRET: Record<string, string> = { 'standard-webhooks': 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' };

function main(): void {
  const o = new Command('bench:verify')
    .option('--requests <n>', 'verifications per preset', '20000')
    .option('--label <text>', 'what this run measures', '')
    .parse(process.argv)
    .opts<{ requests: string; label: string }>();
  const n = Number(o.requests);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-verify-'));
  const file = path.join(dir, 'sources.yaml');
  const deliver = { url: 'http://127.0.0.1:9/x', secret: 'D' };
  const env: NodeJS.ProcessEnv = {
    D: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    OLD: 'old-secret',
    NEW: 'new-secret',
  };
  for (const p of PRESETS) env[`S_${p.replace('-', '_')}`] = SECRET[p] ?? `bench-${p}-secret-0123456789`;
  fs.writeFileSync(
    file,
    stringify({
      sources: [
        ...PRESETS.map((p) => ({ name: p, preset: p, secrets: [`S_${p.replace('-', '_')}`], deliver })),
        {
          name: 'generic-hmac',
          secrets: ['NEW', 'OLD'],
          verify: {
            hmac: {
              algorithm: 'sha256',
              encoding: 'hex',
              header: 'X-Sig',
              prefix: 'sha256=',
              signedContent: '{timestamp}.{body}',
              timestampHeader: 'X-Ts',
              toleranceS: 300,
            },
          },
          eventId: { jsonPointer: '/id' },
          eventType: { jsonPointer: '/type' },
          deliver,
        },
      ],
    }),
  );
  const sources = loadSourcesFile(file, { env, reserved: [] });
  const load = os.loadavg();
  const rows: { source: string; acceptUs: number; verifyUs: number }[] = [];
  for (const s of sources) {
    // `intake send --example`: signed with the entry's first secret, timestamped now.
    const ex = s.example(undefined as never, {});
    const req: SourceRequest = {
      params: {},
      headers: Object.fromEntries(Object.entries(ex.request.headers).map(([k, v]) => [k.toLowerCase(), v])),
      rawBody: Buffer.from(ex.request.body),
      url: `http://127.0.0.1${ex.request.path}`,
    };
    // The ingress asks a source once (accept: signature, JSON, schema, identity). The signature's
    // share is that minus the same request accepted as already verified (a re-ingest's path).
    const time = (alreadyVerified: boolean) => {
      const accept = () => {
        const a = s.accept(req, undefined as never, { alreadyVerified });
        if (a.kind !== 'event') throw new Error(`${s.name}: the example was not accepted (${a.kind})`);
      };
      for (let i = 0; i < Math.min(500, n); i++) accept(); // warm-up (and it must pass)
      const t0 = performance.now();
      for (let i = 0; i < n; i++) accept();
      return ((performance.now() - t0) * 1000) / n;
    };
    // Alternating rounds, the fastest of each kept: the machine's other load only ever adds time.
    let acceptUs = Infinity;
    let unverifiedUs = Infinity;
    for (let round = 0; round < 5; round++) {
      acceptUs = Math.min(acceptUs, time(false));
      unverifiedUs = Math.min(unverifiedUs, time(true));
    }
    rows.push({ source: s.name, acceptUs, verifyUs: Math.max(0, acceptUs - unverifiedUs) });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const out = writeResultFile('verify', {
    label: o.label,
    requests: n,
    loadAverage: { start: load, end: os.loadavg() },
    rows,
  });
  process.stdout.write(
    `| source | accept µs/request | of which the signature µs |\n| --- | --- | --- |\n` +
      `${rows.map((r) => `| ${r.source} | ${r.acceptUs.toFixed(1)} | ${r.verifyUs.toFixed(1)} |`).join('\n')}\n\n` +
      `5 rounds of ${n} each way, the fastest round kept; load average ${load.map((l) => l.toFixed(2)).join(' ')} at the start, ` +
      `${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at the end\nresults: ${out}\n`,
  );
}

main();
