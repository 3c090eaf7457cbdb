import { createHash, randomUUID } from 'node:crypto';
import type { PayloadCodec } from '@temporalio/common';
import type { ValidationIssue } from '../errors';
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
}

interface Row {
  id: string;
  source: string;
  params: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
  issues: ValidationIssue[];
  received_at: Date;
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
  ) {}

  /** Keeps one request; a redelivery of the same bytes keeps the first row. Returns its id. */
  async keep(r: {
    source: string;
    params: Record<string, string>;
    headers: Record<string, string>;
    rawBody: Buffer;
    /** What makes two requests the same event (default the raw body); kept once per content. */
    content?: Buffer | string;
    issues: ValidationIssue[];
  }): Promise<string> {
    const sha = createHash('sha256')
      .update(r.content ?? r.rawBody)
      .digest('hex');
    const body = await seal(new Uint8Array(r.rawBody), this.codec);
    const { rows } = await this.store.query<{ id: string }>(
      `WITH ins AS (
         INSERT INTO rejected_events (id, source, params, headers, body, body_sha256, encrypted, issues)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source, body_sha256) DO NOTHING RETURNING id)
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
      ],
    );
    return rows[0]?.id ?? '';
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
    return { ...summary(row), headers: row.headers, rawBody: Buffer.from(body) };
  }

  /** Removes a quarantined request (re-ingested or dropped); false if it was not there. */
  async remove(id: string): Promise<boolean> {
    const res = await this.store.query('DELETE FROM rejected_events WHERE id = $1', [id]);
    return (res.rowCount ?? 0) > 0;
  }
}
