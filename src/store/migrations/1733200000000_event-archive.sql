-- Up Migration

-- The archive: every accepted event's validated payload and metadata, kept for
-- INTAKE_ARCHIVE_RETENTION_DAYS whatever Temporal's retention is, so that an event can be shown,
-- deduplicated and replayed after its workflow was deleted. Written before the event is
-- acknowledged (before the start, or in the start spool's transaction), so an acknowledged event is
-- never missing from it. `payload` is sealed like the spool (src/store/sealed.ts): passed through
-- the payload codec when INTAKE_ENCRYPTION_KEYS is set.
CREATE TABLE event_archive (
  id            text PRIMARY KEY,              -- workflow id <source>:<eventId>
  seq           bigserial NOT NULL UNIQUE,     -- arrival order; replays page through it
  source        text NOT NULL,
  event_type    text NOT NULL,
  entity        text NOT NULL,
  params        jsonb NOT NULL,
  payload       bytea NOT NULL,
  encrypted     boolean NOT NULL,
  received_at   timestamptz NOT NULL,
  -- received | processed | parked | discarded: the latest run's outcome, kept by the worker
  status        text NOT NULL DEFAULT 'received',
  revision      integer NOT NULL DEFAULT 1,    -- 1 + replays started
  replay_id     text,                          -- the replay that set `revision`
  replayed_at   timestamptz,
  processed_at  timestamptz,
  last_error    text,
  expires_at    timestamptz NOT NULL
);
CREATE INDEX event_archive_select_idx ON event_archive (source, event_type, received_at);
CREATE INDEX event_archive_expiry_idx ON event_archive (expires_at);
CREATE INDEX event_archive_replay_idx ON event_archive (replay_id) WHERE replay_id IS NOT NULL;

-- The ledger keeps which revision of an event's effect is applied: a replay (revision 2, 3…)
-- replaces the earlier effect once; the same revision again is a redelivery and changes nothing.
ALTER TABLE processed_events ADD COLUMN revision integer NOT NULL DEFAULT 1;

-- Replays (`intake events replay`, POST /admin/replay): who asked, why, what, and the final counts.
-- The replayEvents workflow holds the live progress; this row outlives its retention.
CREATE TABLE replays (
  id            text PRIMARY KEY,              -- replay:<source>:<random>, the workflow id
  reason        text NOT NULL,
  requested_by  text NOT NULL,                 -- the token's role (admin)
  filter        jsonb NOT NULL,
  matched       integer NOT NULL,
  status        text NOT NULL DEFAULT 'running',
  replayed      integer NOT NULL DEFAULT 0,
  not_started   integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);

-- Down Migration
DROP TABLE replays;
ALTER TABLE processed_events DROP COLUMN revision;
DROP TABLE event_archive;
