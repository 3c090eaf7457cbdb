-- Up Migration

-- A quarantined Mailgun request binds its signature token (mailgun_tokens) before it is kept; the
-- key it bound is kept with the row, so a re-ingest knows this row, and no forged copy of the
-- same signature block, won the token. NULL on rows kept before this migration.
ALTER TABLE rejected_events ADD COLUMN token_binding text;
-- The sealed body's size, so the per-source byte cap (INTAKE_QUARANTINE_MAX_BYTES) is a sum over
-- an integer column rather than a read of every body.
ALTER TABLE rejected_events ADD COLUMN bytes integer NOT NULL DEFAULT 0;
UPDATE rejected_events SET bytes = octet_length(body);

-- Dead letters of the start spool: a start Temporal refuses as permanently invalid is never retried
-- again and never holds new events back; it stays visible (`intake events list --status dead`,
-- GET /events/:id with lastError) until an operator drops it.
ALTER TABLE start_spool ADD COLUMN dead_at timestamptz;
ALTER TABLE start_spool ADD COLUMN last_error text;
UPDATE start_spool SET dead_at = now(), last_error = 'Temporal refused the start as invalid'
  WHERE reason = 'refused';

-- Down Migration
ALTER TABLE start_spool DROP COLUMN last_error;
ALTER TABLE start_spool DROP COLUMN dead_at;
ALTER TABLE rejected_events DROP COLUMN bytes;
ALTER TABLE rejected_events DROP COLUMN token_binding;
