import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
// A dependency of @temporalio/common at the same version; imported directly for the canonical
// protobuf serialisation of a Payload (the format Temporal's other SDK samples encrypt).
import { temporal } from '@temporalio/proto';
import { ConfigError } from '../errors';

/** `encoding` metadata value of a payload this codec encrypted. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the key that encrypted a payload. */
export const KEY_ID_METADATA_KEY = 'encryption-key-id';

const VARIABLE = 'INTAKE_ENCRYPTION_KEYS';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const text = (b: Uint8Array | null | undefined): string | undefined =>
  b ? Buffer.from(b).toString('utf8') : undefined;

/** One AES-256 key and the id recorded in every payload it encrypts. */
export interface EncryptionKey {
  /** Matches `[A-Za-z0-9._-]{1,64}`; stored in the payload metadata, so it must never be reused for other material. */
  id: string;
  /** Exactly 32 bytes. */
  key: Buffer;
}

/** A payload could not be decrypted (unknown key id, truncated or tampered data). Never quotes the data. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
}

/**
 * Parses `INTAKE_ENCRYPTION_KEYS`, `k2:<base64 32 bytes>,k1:<base64 32 bytes>`. The first key
 * encrypts; all of them decrypt. Rotation: prepend the new key and keep the old ones until every
 * history encrypted with them has passed the namespace retention. Throws ConfigError naming the
 * variable and the entry's position or id, never the key material.
 */
export function parseEncryptionKeys(raw: string): EncryptionKey[] {
  const entries = raw.split(',').map((e) => e.trim());
  if (entries.every((e) => e === '')) throw new ConfigError(VARIABLE, 'no keys given');
  const keys: EncryptionKey[] = [];
  entries.forEach((entry, i) => {
    if (entry === '') return; // a trailing or doubled comma is harmless
    const where = `entry ${i + 1}`;
    const sep = entry.indexOf(':');
    if (sep < 0) throw new ConfigError(VARIABLE, `${where} is not of the form <id>:<base64 key>`);
    const id = entry.slice(0, sep).trim();
    const material = entry.slice(sep + 1).trim();
    if (!KEY_ID.test(id)) throw new ConfigError(VARIABLE, `${where}: key id must match [A-Za-z0-9._-]{1,64}`);
    if (keys.some((k) => k.id === id)) throw new ConfigError(VARIABLE, `duplicate key id "${id}"`);
    const key = BASE64.test(material) ? Buffer.from(material, 'base64') : undefined;
    if (key?.length !== KEY_BYTES) {
      throw new ConfigError(VARIABLE, `key "${id}" must be ${KEY_BYTES} bytes encoded as base64`);
    }
    keys.push({ id, key });
  });
  return keys;
}

/** A fresh random key as an `INTAKE_ENCRYPTION_KEYS` entry, `id:<base64 32 bytes>`. */
export function generateEncryptionKey(id: string): string {
  if (!KEY_ID.test(id)) throw new ConfigError(VARIABLE, 'key id must match [A-Za-z0-9._-]{1,64}');
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

/**
 * AES-256-GCM payload codec. An encoded payload has metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`; its data is IV (12 random bytes) + ciphertext + tag (16 bytes) of the
 * whole original Payload in protobuf form, with the key id as additional authenticated data (so
 * the id cannot be swapped). Decoding passes payloads without that encoding through unchanged.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly encryptWith: EncryptionKey;
  private readonly byId: ReadonlyMap<string, Buffer>;

  /** @param keys the first encrypts, all decrypt (see parseEncryptionKeys). */
  constructor(keys: readonly EncryptionKey[]) {
    const [first] = keys;
    if (!first) throw new ConfigError(VARIABLE, 'no keys given');
    this.encryptWith = first;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** Encrypts every payload with the first key. */
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  /** Decrypts payloads this codec (or an older key of it) encrypted; others pass through. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) =>
      text(p.metadata?.[METADATA_ENCODING_KEY]) === ENCRYPTED_ENCODING ? this.decrypt(p) : p,
    );
  }

  private encrypt(payload: Payload): Payload {
    const { id, key } = this.encryptWith;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES }).setAAD(utf8(id));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA_KEY]: utf8(id) },
      data,
    };
  }

  private decrypt(payload: Payload): Payload {
    const id = text(payload.metadata?.[KEY_ID_METADATA_KEY]);
    if (id === undefined) throw new PayloadDecryptionError(`encrypted payload has no ${KEY_ID_METADATA_KEY}`);
    // The id comes from stored data: quote it bounded and escaped.
    const named = JSON.stringify(id.slice(0, 64));
    const key = this.byId.get(id);
    if (!key)
      throw new PayloadDecryptionError(`unknown encryption key id ${named}; add that key to ${VARIABLE}`);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadDecryptionError(`encrypted payload (key id ${named}) is truncated`);
    const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    })
      .setAAD(utf8(id))
      .setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new PayloadDecryptionError(
        `encrypted payload failed authentication with key id ${named} (tampered or wrong key)`,
      );
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

/** The codec for the parsed `INTAKE_ENCRYPTION_KEYS` (Config.encryptionKeys); undefined (no encryption) without keys. */
export function createEncryptionCodec(keys: readonly EncryptionKey[] | undefined): PayloadCodec | undefined {
  if (!keys?.length) return undefined;
  return new EncryptionCodec(keys);
}
