import type { Queryable } from './store';

/** Unique keys of the payload store that two racing requests may hit. */
export const PAYLOAD_UNIQUE_KEYS = ['offloaded_payloads_pkey'] as const;

/** One offloaded payload's reference data: its size and SHA-256 (hex) as stored. */
export interface StoredPayloadInfo {
  bytes: number;
  sha256: string;
}

/**
 * Writes an offloaded payload (`offloaded_payloads`, keyed by the workflow id) unless one is
 * already stored under `id`. Returns true when this call wrote it.
 */
export async function insertPayload(
  q: Queryable,
  id: string,
  data: Buffer,
  info: StoredPayloadInfo,
  encrypted: boolean,
): Promise<boolean> {
  const inserted = await q.query(
    `INSERT INTO offloaded_payloads (id, data, bytes, sha256, encrypted) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO NOTHING`,
    [id, data, info.bytes, info.sha256, encrypted],
  );
  return inserted.rowCount === 1;
}

/** The size and hash of the payload stored under `id`, or undefined. */
export async function payloadInfo(q: Queryable, id: string): Promise<StoredPayloadInfo | undefined> {
  const { rows } = await q.query<StoredPayloadInfo>(
    'SELECT bytes, sha256 FROM offloaded_payloads WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** The stored bytes of the payload under `id`, or undefined. */
export async function payloadData(q: Queryable, id: string): Promise<Buffer | undefined> {
  const { rows } = await q.query<{ data: Buffer }>('SELECT data FROM offloaded_payloads WHERE id = $1', [id]);
  return rows[0]?.data;
}
