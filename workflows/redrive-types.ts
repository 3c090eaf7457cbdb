/** One parked event a redrive resumes, as it was when selected. */
export interface RedriveTarget {
  /** Workflow id of the event. */
  id: string;
  /**
   * Handler attempts at selection: more attempts later means the retry round has run. Asked only
   * for a canary (the one place it is read); absent otherwise, so a redrive by issue costs one
   * visibility query rather than a status query per event.
   */
  attempts?: number;
  /** Issue id (error signature) it was parked with. */
  issue: string;
}

/** Input of the redriveParked workflow (built by src/operations/redrive-service.ts). */
export interface RedriveInput {
  /** What the operator asked for, kept for the record (Web UI, `redrives show`). */
  filter?: { source?: string; issue?: string };
  /**
   * The selected parked events (the API and CLI select them, to answer `matched` at once). Absent
   * when started by hand (Web UI, `temporal workflow start`): the workflow selects by `filter`.
   */
  targets?: RedriveTarget[];
  /** Resume a random sample first: `count` events, or `percent` of them (at least one). */
  canary?: { count?: number; percent?: number };
  /** Retry signals per second; unset = as fast as the server takes them. */
  ratePerSecond?: number;
  /** How often the canary's events are checked while they settle. Default 1000 ms. */
  pollIntervalMs?: number;
}

/** One event's state as the redrive sees it (answer of the redriveEventStates activity). */
export interface RedriveEventState {
  id: string;
  /** Event status, or `gone` when no workflow has that id any more. */
  status: string;
  attempts: number;
  lastError: string | null;
  /** Issue id and readable signature of its last error. */
  issue: string;
  signature: string;
}

/** Where a redrive is. */
export type RedrivePhase = 'canary' | 'rest' | 'done' | 'stopped' | 'cancelled';

/** The redrive's progress: the `progress` query's answer and the workflow's result. */
export interface RedriveProgress {
  phase: RedrivePhase;
  filter: { source?: string; issue?: string };
  matched: number;
  /** Size of the canary sample (0 without a canary). */
  sample: number;
  /** Retry signals sent so far (events that closed meanwhile count too). */
  signalled: number;
  /** Canary events processed after their retry. */
  canaryProcessed: number;
  /** When the canary failed: the sampled events that parked again, with their signature. */
  parkedAgain: RedriveEventState[];
  /** Why the redrive stopped, in words (phase `stopped`). */
  reason?: string;
}
