import type { Queryable } from './store';

/** Unique keys of the token bindings that two racing requests may hit. */
export const TOKEN_BINDING_UNIQUE_KEYS = ['mailgun_tokens_pkey'] as const;

/**
 * Binds a Mailgun token to the first event id that presents it and returns the bound id.
 * Atomic across API replicas (primary key); expired bindings are replaced (and swept by
 * {@link sweepMailgunTokens}).
 */
export async function bindMailgunToken(
  q: Queryable,
  token: string,
  eventId: string,
  ttlS: number,
): Promise<string> {
  const { rows } = await q.query<{ event_id: string }>(
    `INSERT INTO mailgun_tokens (token, event_id, expires_at)
     VALUES ($1, $2, now() + make_interval(secs => $3))
     ON CONFLICT (token) DO UPDATE
       SET event_id = CASE WHEN mailgun_tokens.expires_at < now() THEN EXCLUDED.event_id
                           ELSE mailgun_tokens.event_id END,
           expires_at = CASE WHEN mailgun_tokens.expires_at < now() THEN EXCLUDED.expires_at
                             ELSE mailgun_tokens.expires_at END
     RETURNING event_id`,
    [token, eventId, ttlS],
  );
  return rows[0]?.event_id ?? '';
}

/** Deletes expired Mailgun token bindings; returns how many. */
export async function sweepMailgunTokens(q: Queryable): Promise<number> {
  const res = await q.query('DELETE FROM mailgun_tokens WHERE expires_at < now()');
  return res.rowCount ?? 0;
}

/**
 * {@link bindMailgunToken} for many tokens with one statement per round: returns, per pair, the
 * event id its token is bound to. A token presented twice is bound in a later round (one statement
 * cannot upsert a row twice), so the first pair to present it wins, as one at a time would.
 */
export async function bindMailgunTokens(
  q: Queryable,
  pairs: { token: string; eventId: string }[],
  ttlS: number,
): Promise<string[]> {
  const bound: string[] = new Array(pairs.length);
  let left = pairs.map((_, i) => i);
  while (left.length > 0) {
    const seen = new Set<string>();
    const round: number[] = [];
    const later: number[] = [];
    for (const i of left) {
      const { token } = pairs[i]!;
      (seen.has(token) ? later : round).push(i);
      seen.add(token);
    }
    const { rows } = await q.query<{ token: string; event_id: string }>(
      `INSERT INTO mailgun_tokens (token, event_id, expires_at)
       SELECT t, e, now() + make_interval(secs => $3) FROM unnest($1::text[], $2::text[]) AS u(t, e)
       ON CONFLICT (token) DO UPDATE
         SET event_id = CASE WHEN mailgun_tokens.expires_at < now() THEN EXCLUDED.event_id
                             ELSE mailgun_tokens.event_id END,
             expires_at = CASE WHEN mailgun_tokens.expires_at < now() THEN EXCLUDED.expires_at
                               ELSE mailgun_tokens.expires_at END
       RETURNING token, event_id`,
      [round.map((i) => pairs[i]!.token), round.map((i) => pairs[i]!.eventId), ttlS],
    );
    const byToken = new Map(rows.map((r) => [r.token, r.event_id]));
    for (const i of round) bound[i] = byToken.get(pairs[i]!.token) ?? '';
    left = later;
  }
  return bound;
}
