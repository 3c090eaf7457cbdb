import type { PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ConfigError } from '../errors';
import { KEY_ID_METADATA_KEY, type EncryptionKey } from '../temporal/encryption-codec';
import { seal, unseal } from './sealed';
import type { Queryable } from './store';

/** What the archive knows of an event's latest run (`received` until a worker settles it). */
export type ArchiveStatus = 'received' | 'processed' | 'parked' | 'discarded';

/** One event as the API archives it before acknowledging it. */
export interface ArchiveRow {
  /** Workflow id `<source>:<eventId>`. */
  id: string;
  source: string;
  eventType: string;
  entity: string;
  params: Record<string, string>;
  /** The validated body, sealed (see ./sealed.ts). */
  data: Buffer;
  encrypted: boolean;
  receivedAt: Date;
  expiresAt: Date;
}

/** An archived event's metadata (GET /events/:id once its workflow is gone). */
export interface ArchivedEvent {
  id: string;
  source: string;
  eventType: string;
  entity: string;
  status: ArchiveStatus;
  /** 1 + replays started. */
  revision: number;
  receivedAt: string;
  processedAt: string | null;
  replayedAt: string | null;
  lastError: string | null;
}

/** An archived event with its payload, as a replay restarts it. */
export interface ArchivedPayload extends ArchivedEvent {
  params: Record<string, string>;
  payload: unknown;
}

/** Which archived events a replay takes (`intake events replay`, POST /admin/replay). */
export interface ArchiveFilter {
  source: string;
  /** Event type (`opened`). */
  type?: string;
  /** ISO 8601; received at or after. */
  since?: string;
  /** ISO 8601; received at or before. */
  until?: string;
  /** Workflow ids `<source>:<eventId>`. */
  ids?: string[];
  /** Status of the events' latest run. */
  status: 'processed' | 'discarded';
  /** Only rows archived up to this arrival number (fixed when the replay is asked for). */
  maxSeq?: string;
}

/** Inserts archive rows in the caller's statement; a row already there is kept (redelivery). */
export async function insertArchiveRows(q: Queryable, rows: ArchiveRow[]): Promise<void> {
  if (rows.length === 0) return;
  await q.query(
    `INSERT INTO event_archive (id, source, event_type, entity, params, payload, encrypted, received_at, expires_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bytea[],
       $7::boolean[], $8::timestamptz[], $9::timestamptz[])
     ON CONFLICT (id) DO NOTHING`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.source),
      rows.map((r) => r.eventType),
      rows.map((r) => r.entity),
      rows.map((r) => JSON.stringify(r.params)),
      rows.map((r) => r.data),
      rows.map((r) => r.encrypted),
      rows.map((r) => r.receivedAt),
      rows.map((r) => r.expiresAt),
    ],
  );
}

/**
 * Which of these workflow ids are archived and settled (processed or discarded): events already
 * acknowledged and run, perhaps after Temporal's retention removed their workflow. A redelivery of
 * one must start nothing, whichever way it comes in (a direct start, or the start spool).
 */
export async function settledArchived(q: Queryable, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await q.query<{ id: string }>(
    `SELECT id FROM event_archive WHERE id = ANY($1) AND status IN ('processed', 'discarded')`,
    [ids],
  );
  return new Set(rows.map((r) => r.id));
}

const FILTER_SQL = `source = $1
  AND ($2::text IS NULL OR event_type = $2)
  AND ($3::timestamptz IS NULL OR received_at >= $3)
  AND ($4::timestamptz IS NULL OR received_at <= $4)
  AND ($5::text[] IS NULL OR id = ANY($5))
  AND status = $6
  AND ($7::bigint IS NULL OR seq <= $7)
  AND expires_at > now()`;

const filterParams = (f: ArchiveFilter): unknown[] => [
  f.source,
  f.type ?? null,
  f.since ?? null,
  f.until ?? null,
  f.ids ?? null,
  f.status,
  f.maxSeq ?? null,
];

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

interface MetaRow {
  id: string;
  source: string;
  event_type: string;
  entity: string;
  status: ArchiveStatus;
  revision: number;
  received_at: Date;
  processed_at: Date | null;
  replayed_at: Date | null;
  last_error: string | null;
}

const toEvent = (r: MetaRow): ArchivedEvent => ({
  id: r.id,
  source: r.source,
  eventType: r.event_type,
  entity: r.entity,
  status: r.status,
  revision: r.revision,
  receivedAt: r.received_at.toISOString(),
  processedAt: iso(r.processed_at),
  replayedAt: iso(r.replayed_at),
  lastError: r.last_error,
});

const META = `id, source, event_type, entity, status, revision, received_at, processed_at, replayed_at, last_error`;

/**
 * The `event_archive` table. Rows are sealed with the payload codec, like the start spool, so no
 * payload value is kept in plain text when INTAKE_ENCRYPTION_KEYS is set.
 */
export class EventArchive {
  constructor(
    /** INTAKE_ARCHIVE_RETENTION_DAYS. */
    readonly retentionDays: number,
    private readonly codec?: PayloadCodec,
  ) {}

  /** The archive row of one event (its payload sealed), ready to insert. */
  async row(e: Omit<ArchiveRow, 'data' | 'encrypted' | 'expiresAt'>, payload: unknown): Promise<ArchiveRow> {
    return {
      ...e,
      data: await seal(payload, this.codec),
      encrypted: !!this.codec,
      expiresAt: new Date(e.receivedAt.getTime() + this.retentionDays * 86_400_000),
    };
  }

  /**
   * Archives one event unless it already is. Returns true when its row was there and is settled
   * (processed or discarded): a redelivery that must start nothing, even after Temporal forgot it.
   */
  async record(q: Queryable, row: ArchiveRow): Promise<boolean> {
    const { rows } = await q.query<{ settled: boolean }>(
      `WITH ins AS (
         INSERT INTO event_archive (id, source, event_type, entity, params, payload, encrypted, received_at, expires_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING id)
       SELECT status IN ('processed', 'discarded') AS settled FROM event_archive
       WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ins)`,
      [
        row.id,
        row.source,
        row.eventType,
        row.entity,
        JSON.stringify(row.params),
        row.data,
        row.encrypted,
        row.receivedAt,
        row.expiresAt,
      ],
    );
    return rows[0]?.settled === true;
  }

  /** One archived event's metadata, if archived and not expired. */
  async find(q: Queryable, id: string): Promise<ArchivedEvent | undefined> {
    const { rows } = await q.query<MetaRow>(
      `SELECT ${META} FROM event_archive WHERE id = $1 AND expires_at > now()`,
      [id],
    );
    return rows[0] ? toEvent(rows[0]) : undefined;
  }

  /** How many archived events match, and the arrival number that bounds them. */
  async count(q: Queryable, f: ArchiveFilter): Promise<{ matched: number; maxSeq: string }> {
    const { rows } = await q.query<{ n: number; max: string | null }>(
      `SELECT count(*)::int AS n, max(seq)::text AS max FROM event_archive WHERE ${FILTER_SQL}`,
      filterParams(f),
    );
    return { matched: rows[0]?.n ?? 0, maxSeq: rows[0]?.max ?? '0' };
  }

  /** Up to `limit` matching ids after arrival number `after`, in arrival order, with their numbers. */
  async page(
    q: Queryable,
    f: ArchiveFilter,
    after: string,
    limit: number,
  ): Promise<{ ids: string[]; seqs: string[]; last: string }> {
    // Ordered by the number, not its text (an output column named `seq` would sort "10" before
    // "2", and a page's last number would then skip or repeat events on the next page).
    const { rows } = await q.query<{ id: string; pos: string }>(
      `SELECT id, seq::text AS pos FROM event_archive WHERE ${FILTER_SQL} AND seq > $8 ORDER BY seq LIMIT $9`,
      [...filterParams(f), after, limit],
    );
    return { ids: rows.map((r) => r.id), seqs: rows.map((r) => r.pos), last: rows.at(-1)?.pos ?? after };
  }

  /**
   * Marks the events as replayed by `replayId` and returns them with their payloads. The revision
   * goes up once per replay, however often this is repeated (an activity retried after a crash).
   */
  async claimForReplay(q: Queryable, replayId: string, ids: string[]): Promise<ArchivedPayload[]> {
    await q.query(
      `UPDATE event_archive SET revision = revision + 1, replay_id = $2
       WHERE id = ANY($1) AND replay_id IS DISTINCT FROM $2`,
      [ids, replayId],
    );
    const { rows } = await q.query<MetaRow & { params: Record<string, string>; payload: Buffer }>(
      `SELECT ${META}, params, payload FROM event_archive WHERE id = ANY($1) AND replay_id = $2`,
      [ids, replayId],
    );
    return Promise.all(
      rows.map(async (r) => ({
        ...toEvent(r),
        params: r.params,
        payload: await unseal(r.payload, this.codec),
      })),
    );
  }
}

/**
 * Settles an archived event's latest run from the workflow (parked, discarded), unless a newer
 * replay has begun since (its revision is higher).
 */
export async function settleArchived(
  q: Queryable,
  id: string,
  status: 'parked' | 'discarded',
  lastError: string | null,
  revision: number,
): Promise<void> {
  await q.query(`UPDATE event_archive SET status = $2, last_error = $3 WHERE id = $1 AND revision = $4`, [
    id,
    status,
    lastError?.slice(0, 2000) ?? null,
    revision,
  ]);
}

/** Deletes archived events past their retention; returns how many. */
export async function sweepArchive(q: Queryable, batch = 5000): Promise<number> {
  const res = await q.query(
    `DELETE FROM event_archive WHERE id IN (
       SELECT id FROM event_archive WHERE expires_at <= now() LIMIT $1)`,
    [batch],
  );
  return res.rowCount ?? 0;
}

/**
 * Refuses to start a process whose INTAKE_ENCRYPTION_KEYS cannot decrypt the newest archived event:
 * an API replica or a worker configured with other keys than the rest (issue 19). Such a worker
 * failed every workflow task of those events, and such an API wrote events no worker could read.
 * During a rotation every process holds the new key before any encrypts with it (README), so a
 * process that does not hold the newest event's key is misconfigured. An empty archive, or a newest
 * event stored in plain text, passes: there is nothing yet to compare.
 */
export async function assertHoldsNewestArchiveKey(
  q: Queryable,
  keys: readonly Pick<EncryptionKey, 'id'>[] | undefined,
): Promise<void> {
  let row: { payload: Buffer; encrypted: boolean } | undefined;
  try {
    const { rows } = await q.query<{ payload: Buffer; encrypted: boolean }>(
      'SELECT payload, encrypted FROM event_archive ORDER BY seq DESC LIMIT 1',
    );
    row = rows[0];
  } catch {
    // The store unreachable at start-up is no reason to refuse: the process waits for it as
    // before, and the check runs at its next start.
    return;
  }
  if (!row?.encrypted) return;
  const metadata = temporal.api.common.v1.Payload.decode(row.payload).metadata ?? {};
  const raw = metadata[KEY_ID_METADATA_KEY];
  const keyId = raw ? Buffer.from(raw).toString('utf8') : undefined;
  if (keyId === undefined || keys?.some((k) => k.id === keyId)) return;
  throw new ConfigError(
    'INTAKE_ENCRYPTION_KEYS',
    keys?.length
      ? `the newest archived event is encrypted with key id "${keyId}", which this process does not hold (it has ${keys.map((k) => `"${k.id}"`).join(', ')}); every API and worker needs the same keys: add that key`
      : `the newest archived event is encrypted with key id "${keyId}", but INTAKE_ENCRYPTION_KEYS is not set here; every API and worker needs the same keys`,
  );
}
