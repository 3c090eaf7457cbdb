import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { temporalConnectConfig } from '../../src/temporal/connection';

/** Only TEMPORAL_* settings are handed to @temporalio/envconfig; HOME points to an empty folder. */
function connectConfig(env: Record<string, string>) {
  return temporalConnectConfig(loadConfig({ HOME: home, ...env }));
}

let home: string;
beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-envconfig-'));
});
afterAll(() => {
  fs.rmSync(home, { recursive: true, force: true });
});

describe('Temporal connection settings via @temporalio/envconfig', () => {
  it('defaults to a plaintext local server in the default namespace', () => {
    const c = connectConfig({});
    expect(c.namespace).toBe('default');
    expect(c.connectionOptions.address).toBe('127.0.0.1:7233');
    expect(c.connectionOptions.tls).toBeFalsy();
    expect(c.connectionOptions.apiKey).toBeUndefined();
  });

  it('turns TEMPORAL_API_KEY into an API key with TLS on (Temporal Cloud)', () => {
    const c = connectConfig({
      TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233',
      TEMPORAL_NAMESPACE: 'intake-prod.a1b2c',
      TEMPORAL_API_KEY: 'test-api-key',
    });
    expect(c.namespace).toBe('intake-prod.a1b2c');
    expect(c.connectionOptions.address).toBe('eu-west-1.aws.api.temporal.io:7233');
    expect(c.connectionOptions.apiKey).toBe('test-api-key');
    expect(c.connectionOptions.tls).toBeTruthy();
  });

  it('lets TEMPORAL_TLS=false turn TLS off again for an API key behind a TLS-terminating proxy', () => {
    const c = connectConfig({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' });
    expect(c.connectionOptions.apiKey).toBe('k');
    expect(c.connectionOptions.tls).toBeFalsy();
  });

  it('reads TLS client certificate and key paths into a clientCertPair (mTLS)', () => {
    const cert = path.join(home, 'client.pem');
    const key = path.join(home, 'client.key');
    const ca = path.join(home, 'ca.pem');
    fs.writeFileSync(cert, 'CERTIFICATE BYTES');
    fs.writeFileSync(key, 'KEY BYTES');
    fs.writeFileSync(ca, 'CA BYTES');
    const c = connectConfig({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com',
    });
    const tls = c.connectionOptions.tls;
    if (typeof tls !== 'object' || !tls) throw new Error('expected a TLS config object');
    expect(Buffer.from(tls.clientCertPair?.crt ?? '').toString()).toBe('CERTIFICATE BYTES');
    expect(Buffer.from(tls.clientCertPair?.key ?? '').toString()).toBe('KEY BYTES');
    expect(Buffer.from(tls.serverRootCACertificate ?? '').toString()).toBe('CA BYTES');
    expect(tls.serverNameOverride).toBe('temporal.example.com');
    expect(c.connectionOptions.apiKey).toBeUndefined();
  });
});
