/** Which archived events a replay takes (src/store/event-archive.ts ArchiveFilter, as data). */
export interface ReplayFilter {
  source: string;
  /** Event type, e.g. `opened`. */
  type?: string;
  /** ISO 8601: received at or after. */
  since?: string;
  /** ISO 8601: received at or before (set to the request's time when not given). */
  until?: string;
  /** Event ids `<source>:<eventId>`. */
  ids?: string[];
  /** Status of the events' latest run; default `processed`. */
  status: 'processed' | 'discarded';
  /** Only events archived up to this arrival number: the set counted when the replay was asked for. */
  maxSeq?: string;
}

/** Input of the replayEvents workflow (built by src/operations/replay-service.ts). */
export interface ReplayInput {
  filter: ReplayFilter;
  /** Events counted when the replay was asked for; the replay takes at most these. */
  matched: number;
  /** Why (kept with the replay, shown by `intake events replays show`). */
  reason: string;
  /** Who asked: the role of the token (`admin`). */
  requestedBy: string;
  /** Replay the first `count` events (or `percent` of them), one at a time, and stop at the first that parks. */
  canary?: { count?: number; percent?: number };
  /** Replays started per second; unset = batches as fast as the server takes them. */
  ratePerSecond?: number;
  /** How often a canary event is checked while it runs. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Events started by one activity when no rate is given. Default 50 (tests set fewer). */
  batchSize?: number;
  /**
   * Batches one run takes before it continues as new; default: until Temporal suggests it (the
   * history's length or size). Tests set a few to see a replay span runs.
   */
  batchesPerRun?: number;
  /** Where an earlier run of this replay stopped when it continued as new. */
  resume?: ReplayResume;
}

/** What a replay carries into its next run (continue-as-new). */
export interface ReplayResume {
  /** Arrival number of the last archived event handled: the next page starts after it. */
  after: string;
  /** Events replayed by the earlier runs. */
  replayed: number;
  /** Runs so far (1 = the first continued as new once). */
  runs: number;
}

/** Where a replay is: `stopped` = a canary event parked. */
export type ReplayStatus = 'running' | 'completed' | 'stopped' | 'cancelled';

/** One replayed event's run, as the canary sees it. */
export interface ReplayRunState {
  /** Workflow id of the run, `<id>:r<revision>`. */
  runId: string;
  /** processEvent status, or `gone`. */
  status: string;
  lastError: string | null;
}

/** The replay's progress: the `progress` query's answer and the workflow's result. */
export interface ReplayProgress {
  status: ReplayStatus;
  filter: ReplayFilter;
  reason: string;
  requestedBy: string;
  matched: number;
  /** Events whose replay run was started. */
  replayed: number;
  /** Replayed events that parked (the canary's; GET /admin/replays/:id adds the later ones from the archive). */
  parked: number;
  /** Matched events not replayed (cancelled, stopped, or gone from the archive meanwhile). */
  notStarted: number;
  /** Canary size (0 without a canary). */
  canary: number;
  /** The canary run that parked and stopped the replay. */
  stoppedBy?: ReplayRunState;
  /** Runs this replay continued as new into (absent or 0 while on its first). */
  continuedRuns?: number;
}
