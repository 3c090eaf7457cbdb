-- Up Migration

-- Claim check for large webhook bodies: the API writes the body here (encrypted with the payload
-- codec when INTAKE_ENCRYPTION_KEYS is set) before it starts the workflow, and the workflow input
-- carries only a reference, so the Temporal history stays small.
CREATE TABLE offloaded_payloads (
  id          text PRIMARY KEY,          -- workflow id <source>:<eventId>
  data        bytea NOT NULL,            -- a temporal.api.common.v1.Payload in protobuf form
  bytes       integer NOT NULL,
  sha256      text NOT NULL,             -- of data; the workflow's reference carries it too
  encrypted   boolean NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offloaded_payloads_created_idx ON offloaded_payloads (created_at);

-- Down Migration
DROP TABLE offloaded_payloads;
