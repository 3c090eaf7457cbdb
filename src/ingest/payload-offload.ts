import { createHash } from 'node:crypto';
import { defaultPayloadConverter, type PayloadCodec } from '@temporalio/common';
// The protobuf form of a Payload, as the encryption codec uses it (same package version as the SDK).
import { temporal } from '@temporalio/proto';
import type { Config } from '../config';
import { insertPayload, payloadData, payloadInfo } from '../store/payload-repo';
import type { Queryable } from '../store/store';
import { createEncryptionCodec } from '../temporal/encryption-codec';
import type { HandlerInput, PayloadRef } from '../../workflows/types';

/** The payload part of a workflow input: the body itself, or null plus a reference to the store. */
export interface PreparedPayload {
  payload: unknown;
  payloadRef?: PayloadRef;
}

/** An offloaded payload's row is missing or does not match its reference (retryable). */
export class OffloadedPayloadError extends Error {
  override readonly name = 'OffloadedPayloadError';
}

/** How many times longer re-serialized JSON can be than the text it was parsed from (5.25, rounded up). */
export const MAX_SERIALIZED_GROWTH = 6;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * Store-backed claim check for large webhook bodies. Temporal refuses payloads over 2 MiB and every
 * byte of a workflow input is kept in its history, so a body whose serialized form exceeds the
 * threshold is written to `offloaded_payloads` (keyed by the workflow id) before the workflow
 * starts (src/store/payload-repo.ts), and the input carries a {@link PayloadRef} instead. The row holds the payload exactly as
 * Temporal would (a Payload in protobuf form), passed through the encryption codec when one is
 * configured, so it is encrypted with the same keys and survives the same key rotations.
 */
export class PayloadOffload {
  /**
   * @param thresholdBytes serialized payloads above this size are offloaded (INTAKE_OFFLOAD_THRESHOLD_BYTES)
   * @param codec the encryption codec of client and worker, when encryption is on
   */
  constructor(
    readonly thresholdBytes: number,
    private readonly codec?: PayloadCodec,
  ) {}

  /**
   * The payload for the workflow input: the body itself when small, else null and a reference to
   * the row written here. Idempotent: a redelivery keeps the first row and refers to it.
   * `rawBytes` (the request body's size) skips serializing small bodies. Serializing can grow a
   * body: a JSON number is written out in full, so `1e20` (4 bytes) becomes 21 digits, 5.25 times
   * as long (nothing else in JSON grows; strings and whitespace only shrink). Only a body that
   * cannot pass the threshold even so skips the measurement.
   */
  async prepare(q: Queryable, key: string, payload: unknown, rawBytes?: number): Promise<PreparedPayload> {
    if (rawBytes !== undefined && rawBytes * MAX_SERIALIZED_GROWTH <= this.thresholdBytes) return { payload };
    const plain = defaultPayloadConverter.toPayload(payload);
    if ((plain.data?.length ?? 0) <= this.thresholdBytes) return { payload };
    const [stored = plain] = this.codec ? await this.codec.encode([plain]) : [plain];
    const data = Buffer.from(temporal.api.common.v1.Payload.encode(stored).finish());
    const info = { bytes: data.length, sha256: sha256(data) };
    if (await insertPayload(q, key, data, info, !!this.codec))
      return { payload: null, payloadRef: { key, ...info } };
    // A redelivery (or a retry after a 503): the first row may already be referenced by a workflow.
    const row = await payloadInfo(q, key);
    if (!row) throw new OffloadedPayloadError(`offloaded payload ${key} vanished while being written`);
    return { payload: null, payloadRef: { key, bytes: row.bytes, sha256: row.sha256 } };
  }

  /** Reads an offloaded payload back, checks it against its reference, and decrypts it. */
  async load(q: Queryable, ref: PayloadRef): Promise<unknown> {
    const data = await payloadData(q, ref.key);
    if (!data) throw new OffloadedPayloadError(`offloaded payload ${ref.key} is not in the store`);
    if (sha256(data) !== ref.sha256) {
      throw new OffloadedPayloadError(`offloaded payload ${ref.key} does not match its reference`);
    }
    const stored = temporal.api.common.v1.Payload.decode(data);
    const [plain = stored] = this.codec ? await this.codec.decode([stored]) : [stored];
    return defaultPayloadConverter.fromPayload(plain);
  }

  /** The handler input with an offloaded payload put back in place; other inputs unchanged. */
  async resolve(q: Queryable, input: HandlerInput): Promise<HandlerInput> {
    if (!input.payloadRef) return input;
    const { payloadRef, ...rest } = input;
    return { ...rest, payload: await this.load(q, payloadRef) };
  }
}

const byConfig = new WeakMap<Config, PayloadOffload>();

/** The offload of a configuration (one per Config, so the keys are parsed once). */
export function payloadOffloadFor(config: Config): PayloadOffload {
  let offload = byConfig.get(config);
  if (!offload) {
    offload = new PayloadOffload(config.offloadThresholdBytes, createEncryptionCodec(config.encryptionKeys));
    byConfig.set(config, offload);
  }
  return offload;
}

const hasPayloadRef = (v: unknown): v is HandlerInput =>
  typeof v === 'object' && v !== null && typeof (v as HandlerInput).payloadRef === 'object';

/**
 * Wraps every activity so that an offloaded payload in its first argument is read back from the
 * store before the activity runs. A read failure is an ordinary (retryable) activity failure.
 */
export function withPayloadRefs<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  q: Queryable,
  offload: PayloadOffload,
  activities: T,
): T {
  const out: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(activities)) {
    const call = fn as unknown as (...args: unknown[]) => Promise<unknown>;
    out[name] = async (first?: unknown, ...rest: unknown[]) =>
      call(hasPayloadRef(first) ? await offload.resolve(q, first) : first, ...rest);
  }
  return out as unknown as T;
}
