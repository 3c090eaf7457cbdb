import { createHash, randomUUID } from 'node:crypto';
import type { PayloadCodec } from '@temporalio/common';
import { QuarantineFullError, type ValidationIssue } from '../errors';
import { seal, unseal } from './sealed';
import type { Store } from './store';

/** A quarantined request, as operators list it (no body). */
export interface RejectedSummary {
  id: string;
  source: string;
  status: 'rejected';
  params: Record<string, string>;
  issues: ValidationIssue[];
  receivedAt: string;
}

/** A quarantined request with what re-ingesting it needs. */
export interface RejectedEvent extends RejectedSummary {
  headers: Record<string, string>;
  rawBody: Buffer;
  /**
   * The key the request's signature token was bound to when it was kept (see Source.bindRejected);
   * null for rows kept before tokens were bound, or for sources that bind none.
   */
  tokenBinding: string | null;
}

/** Per-source caps of the quarantine (INTAKE_QUARANTINE_MAX_ROWS, INTAKE_QUARANTINE_MAX_BYTES). */
export interface QuarantineLimits {
  /** Most rows one source may hold. */
  maxRows: number;
  /** Most stored (sealed) body bytes one source may hold. */
  maxBytes: number;
}

/** The SHA-256 (hex) of what makes two quarantined requests the same event. */
export function contentSha256(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

interface Row {
  id: string;
  source: string;
  params: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
  issues: ValidationIssue[];
  received_at: Date;
  token_binding: string | null;
}

const summary = (r: Row): RejectedSummary => ({
  id: r.id,
  source: r.source,
  status: 'rejected',
  params: r.params,
  issues: r.issues,
  receivedAt: r.received_at.toISOString(),
});

/**
 * The `rejected_events` table: signed requests whose body failed the schema, kept (sealed, so
 * encrypted when encryption is on) until an operator re-ingests them after a schema fix, or drops
 * them. Only called after the signature verified: nothing unauthenticated is ever stored.
 */
export class Quarantine {
  constructor(
    private readonly store: Store,
    private readonly codec?: PayloadCodec,
    /** Unbounded when absent (tests of other parts). */
    private readonly limits?: QuarantineLimits,
  ) {}

  /**
   * Keeps one request; a redelivery of the same content keeps the first row. Returns its id.
   * Throws QuarantineFullError, storing nothing, when the source's rows or bytes would pass the
   * caps: the check and the insert run under a per-source lock, so concurrent requests never
   * overshoot them.
   */
  async keep(r: {
    source: string;
    params: Record<string, string>;
    headers: Record<string, string>;
    rawBody: Buffer;
    /** What makes two requests the same event (default the raw body); kept once per content. */
    content?: Buffer | string;
    issues: ValidationIssue[];
    /** The key the signature token was bound to (Source.bindRejected). */
    tokenBinding?: string;
  }): Promise<string> {
    const sha = contentSha256(r.content ?? r.rawBody);
    const body = await seal(new Uint8Array(r.rawBody), this.codec);
    const limits = this.limits;
    return this.store.tx(async (q) => {
      const existing = await q.query<{ id: string }>(
        'SELECT id FROM rejected_events WHERE source = $1 AND body_sha256 = $2',
        [r.source, sha],
      );
      if (existing.rows[0]) return existing.rows[0].id;
      if (limits) {
        // One writer per source at a time between the count and the insert (released at commit).
        await q.query("SELECT pg_advisory_xact_lock(hashtext('intake.quarantine:' || $1))", [r.source]);
        const { rows } = await q.query<{ n: number; bytes: string }>(
          'SELECT count(*)::int AS n, coalesce(sum(bytes), 0)::bigint AS bytes FROM rejected_events WHERE source = $1',
          [r.source],
        );
        const used = rows[0] ?? { n: 0, bytes: '0' };
        if (used.n + 1 > limits.maxRows || Number(used.bytes) + body.length > limits.maxBytes)
          throw new QuarantineFullError();
      }
      const { rows } = await q.query<{ id: string }>(
        `WITH ins AS (
           INSERT INTO rejected_events
             (id, source, params, headers, body, body_sha256, encrypted, issues, token_binding, bytes)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (source, body_sha256) DO NOTHING RETURNING id)
         SELECT id FROM ins UNION ALL
         SELECT id FROM rejected_events WHERE source = $2 AND body_sha256 = $6 LIMIT 1`,
        [
          `rejected:${randomUUID()}`,
          r.source,
          JSON.stringify(r.params),
          JSON.stringify(r.headers),
          body,
          sha,
          !!this.codec,
          JSON.stringify(r.issues),
          r.tokenBinding ?? null,
          body.length,
        ],
      );
      return rows[0]?.id ?? '';
    });
  }

  /** Quarantined requests, newest first. */
  async list(filter: { source?: string; limit: number }): Promise<RejectedSummary[]> {
    const { rows } = await this.store.query<Row>(
      `SELECT id, source, params, headers, issues, received_at FROM rejected_events
       WHERE $1::text IS NULL OR source = $1 ORDER BY received_at DESC LIMIT $2`,
      [filter.source ?? null, filter.limit],
    );
    return rows.map(summary);
  }

  /** One quarantined request with its body, if kept. */
  async get(id: string): Promise<RejectedEvent | undefined> {
    const { rows } = await this.store.query<Row>('SELECT * FROM rejected_events WHERE id = $1', [id]);
    const row = rows[0];
    if (!row) return undefined;
    const body = await unseal<Uint8Array>(row.body, this.codec);
    return {
      ...summary(row),
      headers: row.headers,
      rawBody: Buffer.from(body),
      tokenBinding: row.token_binding,
    };
  }

  /** Removes a quarantined request (re-ingested or dropped); false if it was not there. */
  async remove(id: string): Promise<boolean> {
    const res = await this.store.query('DELETE FROM rejected_events WHERE id = $1', [id]);
    return (res.rowCount ?? 0) > 0;
  }
}
