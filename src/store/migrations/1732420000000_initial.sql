-- Up Migration

-- One row per event whose effect has been applied, for every source: the exactly-once ledger.
CREATE TABLE processed_events (
  id            text PRIMARY KEY,          -- workflow id <source>:<eventId>
  source        text NOT NULL,
  event_type    text NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now()
);

-- Mailgun: every event once, and the message's current state.
CREATE TABLE mailgun_events (
  event_id      text PRIMARY KEY,
  message_id    text NOT NULL,
  event         text NOT NULL,
  severity      text,
  reason        text,
  recipient     text,
  occurred_at   timestamptz NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mailgun_events_message_idx ON mailgun_events (message_id, occurred_at);

CREATE TABLE mailgun_messages (
  message_id     text PRIMARY KEY,
  recipient      text,
  state          text NOT NULL,
  state_at       timestamptz NOT NULL,
  severity       text,
  delivered_at   timestamptz,
  opened_count   integer NOT NULL DEFAULT 0,
  clicked_count  integer NOT NULL DEFAULT 0,
  unsubscribed   boolean NOT NULL DEFAULT false,
  complained     boolean NOT NULL DEFAULT false,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Mailgun replay protection shared by every API replica: a token belongs to one event id.
CREATE TABLE mailgun_tokens (
  token       text PRIMARY KEY,
  event_id    text NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX mailgun_tokens_expiry_idx ON mailgun_tokens (expires_at);

-- Partner customers: last write wins by updated_at; deletes are tombstones.
CREATE TABLE customers (
  partner        text NOT NULL,
  customer_id    text NOT NULL,
  data           jsonb,
  deleted        boolean NOT NULL DEFAULT false,
  updated_at     timestamptz NOT NULL,
  last_event_id  text NOT NULL,
  written_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partner, customer_id)
);

-- Down Migration
DROP TABLE customers;
DROP TABLE mailgun_tokens;
DROP TABLE mailgun_messages;
DROP TABLE mailgun_events;
DROP TABLE processed_events;
