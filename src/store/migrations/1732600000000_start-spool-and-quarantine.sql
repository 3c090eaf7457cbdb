-- Up Migration

-- The way into Temporal while Temporal cannot take a start (down, overloaded, a burst beyond the
-- start limiter): the API writes the validated event here and acknowledges it; every API process
-- relays the rows into Temporal, oldest first. `data` holds the start (workflow input and search
-- attributes) as a temporal.api.common.v1.Payload in protobuf form, passed through the payload
-- codec when INTAKE_ENCRYPTION_KEYS is set, so no payload text is kept in plain here.
CREATE TABLE start_spool (
  seq            bigserial PRIMARY KEY,       -- arrival order; the relay takes the lowest first
  workflow_id    text NOT NULL UNIQUE,        -- <source>:<eventId>; a redelivery finds its row
  source         text NOT NULL,
  reason         text NOT NULL,               -- unavailable | timeout | overloaded | backlog | refused
  data           bytea NOT NULL,
  encrypted      boolean NOT NULL,
  spooled_at     timestamptz NOT NULL DEFAULT now(),
  claimed_until  timestamptz,                 -- a relay's lease; expired leases are taken over
  attempts       integer NOT NULL DEFAULT 0
);

-- Quarantine: signed requests whose body failed the schema (a provider changed its payload). The
-- body is kept (encrypted like the spool) until an operator re-ingests or drops it. Unsigned or
-- badly signed requests never reach this table.
CREATE TABLE rejected_events (
  id           text PRIMARY KEY,               -- rejected:<uuid>
  source       text NOT NULL,
  params       jsonb NOT NULL,                 -- route parameters (partner)
  headers      jsonb NOT NULL,                 -- the source's id headers (webhook-id, …), no signature
  body         bytea NOT NULL,
  body_sha256  text NOT NULL,                  -- of the content (raw body, or Mailgun's event-data): kept once
  encrypted    boolean NOT NULL,
  issues       jsonb NOT NULL,                 -- the schema issues (paths and messages, no values)
  received_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source, body_sha256)
);
CREATE INDEX rejected_events_received_idx ON rejected_events (received_at);

-- Down Migration
DROP TABLE rejected_events;
DROP TABLE start_spool;
