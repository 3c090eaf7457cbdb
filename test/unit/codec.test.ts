import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import express from 'express';
import request from 'supertest';
import type { Payload } from '@temporalio/common';
import { codecRouter, isLoopbackAddress } from '../../src/api/codec-router';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import {
  createEncryptionCodec,
  EncryptionCodec,
  generateEncryptionKey,
  parseEncryptionKeys,
  PayloadDecryptionError,
} from '../../src/temporal/encryption-codec';

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const keyEntry = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

const SECRET = '{"email":"jane.doe@example.com","name":"Jane Doe"}';
const plainPayload = (): Payload => ({ metadata: { encoding: utf8('json/plain') }, data: utf8(SECRET) });

function codecFor(raw: string): EncryptionCodec {
  return new EncryptionCodec(parseEncryptionKeys(raw));
}

describe('EncryptionCodec', () => {
  const k1 = keyEntry('k1');
  const codec = codecFor(k1);

  it('round-trips metadata and data', async () => {
    const [encoded] = await codec.encode([plainPayload()]);
    expect(text(encoded?.metadata?.encoding)).toBe('binary/encrypted');
    expect(text(encoded?.metadata?.['encryption-key-id'])).toBe('k1');
    const [decoded] = await codec.decode([encoded!]);
    expect(text(decoded?.metadata?.encoding)).toBe('json/plain');
    expect(text(decoded?.data)).toBe(SECRET);
  });

  it('leaves no plaintext bytes in the ciphertext', async () => {
    const [encoded] = await codec.encode([plainPayload()]);
    const data = Buffer.from(encoded!.data!);
    for (const fragment of ['jane.doe', 'Jane Doe', 'json/plain'])
      expect(data.includes(utf8(fragment))).toBe(false);
  });

  it('uses a random IV, so two encodes of the same payload differ', async () => {
    const [a, b] = await codec.encode([plainPayload(), plainPayload()]);
    expect(Buffer.from(a!.data!).subarray(0, 12).equals(Buffer.from(b!.data!).subarray(0, 12))).toBe(false);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('refuses tampered ciphertext', async () => {
    const [encoded] = await codec.encode([plainPayload()]);
    const data = Buffer.from(encoded!.data!);
    data[20] = data[20]! ^ 0x01;
    await expect(codec.decode([{ ...encoded, data }])).rejects.toThrow(PayloadDecryptionError);
  });

  it('refuses a swapped key id (the id is authenticated)', async () => {
    const both = codecFor(`${keyEntry('k2')},${k1}`);
    const [encoded] = await both.encode([plainPayload()]);
    const swapped = { ...encoded, metadata: { ...encoded!.metadata, 'encryption-key-id': utf8('k1') } };
    await expect(both.decode([swapped])).rejects.toThrow(/failed authentication with key id "k1"/);
  });

  it('rotates: old-key data still decodes, new encodes use the first key', async () => {
    const [old] = await codec.encode([plainPayload()]);
    const rotated = codecFor(`${keyEntry('k2')},${k1}`);
    const [decoded] = await rotated.decode([old!]);
    expect(text(decoded?.data)).toBe(SECRET);
    const [fresh] = await rotated.encode([plainPayload()]);
    expect(text(fresh?.metadata?.['encryption-key-id'])).toBe('k2');
  });

  it('names an unknown key id and never the data', async () => {
    const [encoded] = await codecFor(keyEntry('retired-2023')).encode([plainPayload()]);
    const err = await codec.decode([encoded!]).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(PayloadDecryptionError);
    expect((err as Error).message).toContain('"retired-2023"');
    expect((err as Error).message).not.toContain('jane');
  });

  it('passes unencrypted payloads through unchanged', async () => {
    const plain = plainPayload();
    const [out] = await codec.decode([plain]);
    expect(out).toBe(plain);
  });
});

describe('parseEncryptionKeys', () => {
  const parseError = (raw: string) => {
    try {
      parseEncryptionKeys(raw);
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  it('keeps the order: the first key encrypts', () => {
    expect(parseEncryptionKeys(`${keyEntry('k2')}, ${keyEntry('k1')}`).map((k) => k.id)).toEqual([
      'k2',
      'k1',
    ]);
  });

  it('refuses a key that is not 32 bytes, without echoing it', () => {
    const short = randomBytes(16).toString('base64');
    const err = parseError(`k1:${short}`);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.variable).toBe('INTAKE_ENCRYPTION_KEYS');
    expect(err.message).toContain('32 bytes');
    expect(err.message).not.toContain(short);
  });

  it('refuses a bad key id', () => {
    expect(parseError(`bad id!:${randomBytes(32).toString('base64')}`).message).toMatch(/entry 1: key id/);
    expect(parseError(randomBytes(32).toString('base64')).message).toMatch(/entry 1 is not of the form/);
  });

  it('refuses duplicate key ids', () => {
    expect(parseError(`${keyEntry('k1')},${keyEntry('k1')}`).message).toContain('duplicate key id "k1"');
  });

  it('needs at least one key; unset or empty means no codec', () => {
    expect(parseError(' , ').message).toContain('no keys');
    expect(createEncryptionCodec(undefined)).toBeUndefined();
    expect(createEncryptionCodec([])).toBeUndefined();
    expect(createEncryptionCodec(parseEncryptionKeys(keyEntry('k1')))).toBeInstanceOf(EncryptionCodec);
    // Parsed once, in src/config/index.ts: unset or blank is off, a bad value stops start-up naming the variable.
    expect(loadConfig({ INTAKE_ENCRYPTION_KEYS: ' ' }).encryptionKeys).toBeUndefined();
    expect(loadConfig({ INTAKE_ENCRYPTION_KEYS: keyEntry('k1') }).encryptionKeys?.map((k) => k.id)).toEqual([
      'k1',
    ]);
    expect(() => loadConfig({ INTAKE_ENCRYPTION_KEYS: 'k1:short' })).toThrow(/INTAKE_ENCRYPTION_KEYS/);
  });

  it('generates keys it accepts', () => {
    const [key] = parseEncryptionKeys(generateEncryptionKey('k3'));
    expect(key?.id).toBe('k3');
    expect(key?.key).toHaveLength(32);
  });
});

describe('codecRouter', () => {
  const UI = 'http://localhost:8233';
  const TOKEN = 'test-admin-token';
  const app = express();
  app.use(codecRouter({ codec: codecFor(keyEntry('k1')), adminToken: TOKEN, corsOrigins: [UI] }));
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const plainJson = {
    payloads: [
      {
        metadata: { encoding: utf8('json/plain').toString('base64') },
        data: utf8(SECRET).toString('base64'),
      },
    ],
  };

  it('round-trips encode → decode over HTTP', async () => {
    const enc = await request(app).post('/codec/encode').set(auth).send(plainJson).expect(200);
    expect(Buffer.from(enc.body.payloads[0].metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(enc.body.payloads[0].data, 'base64').includes(utf8('jane.doe'))).toBe(false);
    const dec = await request(app).post('/codec/decode').set(auth).send(enc.body).expect(200);
    expect(dec.body).toEqual(plainJson);
  });

  it('answers 401 without the token', async () => {
    const res = await request(app).post('/codec/decode').send(plainJson).expect(401);
    expect(res.body).toEqual({ error: 'unauthorized' });
    await request(app).post('/codec/decode').set('Authorization', 'Bearer wrong').send(plainJson).expect(401);
  });

  it('answers the CORS preflight of the allowed origin, without auth', async () => {
    const res = await request(app)
      .options('/codec/decode')
      .set('Origin', UI)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type,authorization,x-namespace')
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-allow-methods']).toBe('POST, OPTIONS');
    expect(res.headers['access-control-allow-headers']).toBe('Content-Type, Authorization, X-Namespace');
  });

  it('gives other origins no CORS grant', async () => {
    const res = await request(app).options('/codec/decode').set('Origin', 'https://evil.example').expect(204);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 400 on malformed JSON and 422 on a bad shape', async () => {
    const bad = await request(app)
      .post('/codec/decode')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"payloads":')
      .expect(400);
    expect(bad.body).toEqual({ error: 'invalid_json' });
    const invalid = await request(app)
      .post('/codec/decode')
      .set(auth)
      .send({ payloads: [{ data: 'not base64!' }] })
      .expect(422);
    expect(invalid.body.error).toBe('validation_failed');
    expect(invalid.body.issues[0].path).toBe('payloads.0.data');
  });

  it('answers 400 naming the key id when decryption fails', async () => {
    const other = express().use(codecRouter({ codec: codecFor(keyEntry('k9')), corsOrigins: [] }));
    const enc = await request(other).post('/codec/encode').send(plainJson).expect(200);
    const res = await request(app).post('/codec/decode').set(auth).send(enc.body).expect(400);
    expect(res.body.message).toContain('"k9"');
  });
});

describe('isLoopbackAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['192.0.2.2', false],
    ['::ffff:192.0.2.2', false],
    ['10.0.0.1', false],
    ['fe80::1', false],
    [undefined, false],
  ])('%s → %s', (address, loopback) => {
    expect(isLoopbackAddress(address)).toBe(loopback);
  });
});

/** A non-loopback IPv4 address of this machine, to reach a server as a remote client would. */
function externalAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('no non-loopback IPv4 interface to test from');
}

describe('a codec endpoint without a token (intake dev) answers loopback clients only', () => {
  const app = express().use(codecRouter({ codec: codecFor(keyEntry('k1')), corsOrigins: [] }));
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });
  const decode = (host: string) =>
    fetch(`http://${host}:${port}/codec/encode`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': '127.0.0.1',
        forwarded: 'for=127.0.0.1',
      },
      body: JSON.stringify({ payloads: [] }),
    });

  it('answers the browser or CLI on this machine', async () => {
    expect((await decode('127.0.0.1')).status).toBe(200);
  });

  it('answers 401 to a client on another address, whatever it claims in headers', async () => {
    const res = await decode(externalAddress());
    expect([res.status, await res.json()]).toEqual([401, { error: 'unauthorized' }]);
  });
});
