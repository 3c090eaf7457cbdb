import { defaultPayloadConverter, type PayloadCodec } from '@temporalio/common';
// The protobuf form of a Payload, as the offload claim check and the encryption codec use it.
import { temporal } from '@temporalio/proto';

/**
 * A value as Temporal would carry it: converted to a Payload, passed through the payload codec (the
 * encryption codec when INTAKE_ENCRYPTION_KEYS is set), in protobuf form. Rows written this way are
 * encrypted with the same keys as the workflow histories and survive the same key rotations.
 */
export async function seal(value: unknown, codec?: PayloadCodec): Promise<Buffer> {
  const plain = defaultPayloadConverter.toPayload(value);
  const [stored = plain] = codec ? await codec.encode([plain]) : [plain];
  return Buffer.from(temporal.api.common.v1.Payload.encode(stored).finish());
}

/** The value {@link seal} wrote. */
export async function unseal<T>(data: Uint8Array, codec?: PayloadCodec): Promise<T> {
  const stored = temporal.api.common.v1.Payload.decode(data);
  const [plain = stored] = codec ? await codec.decode([stored]) : [stored];
  return defaultPayloadConverter.fromPayload<T>(plain);
}
