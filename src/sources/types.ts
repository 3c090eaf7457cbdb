import type { IncomingHttpHeaders } from 'node:http';
import type { z } from 'zod';
import type { Config } from '../config';
import type { Queryable, Store } from '../store/store';

/** What a source sees of one request. */
export interface SourceRequest {
  /** Route parameters (e.g. `partner`). */
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The exact bytes received; signatures are checked against these. */
  rawBody: Buffer;
}

/** Everything Intake needs to start the workflow for one event. */
export interface EventIdentity {
  /** Unique per source; the workflow id is `<source>:<eventId>`. */
  eventId: string;
  /** Provider's event type (e.g. `opened`, `customer.upserted`). */
  eventType: string;
  /** The business entity the event is about (message id, customer id). */
  entity: string;
}

/** Services a source may use while authenticating a request. */
export interface SourceContext {
  config: Config;
  store: Store;
  /** The transaction a binding belongs to (the start spool's), when there is one. */
  tx?: Queryable;
}

/**
 * A webhook source: one file in src/sources/ plus one activity named `activity`.
 * The pipeline (src/api/ingest.ts) runs: content type → verifySignature (raw bytes) → JSON parse →
 * schema → identify → bind (optional, e.g. replay protection needing the event id) → start.
 */
export interface Source<T = unknown> {
  /** Name used in workflow ids and the IntakeSource search attribute. */
  name: string;
  /** Express route below /webhooks, e.g. `mailgun` or `partners/:partner`. */
  route: string;
  /** Name of the activity that processes this source's events (`handle<Source>`). */
  activity: string;
  /**
   * The status a new, persisted event is answered with: the provider's documented success. Mailgun
   * treats only `200` as success; Standard Webhooks senders accept any 2xx (`202`). A duplicate is
   * always `200`.
   */
  successStatus: 200 | 202;
  /** Whether this source can run with the given config (has its secrets, is enabled). */
  isConfigured(config: Config, params: Record<string, string>): boolean;
  /** Checks authenticity before parsing, when the signature covers the raw bytes. */
  verifyRaw?(req: SourceRequest, ctx: SourceContext): void;
  /** Checks authenticity after JSON parsing, when the signature lives in the body (Mailgun). */
  verifyParsed?(json: unknown, req: SourceRequest, ctx: SourceContext): void;
  /**
   * Request headers `identify` reads (besides the body), kept with a quarantined request so it can
   * be re-ingested later. Never a signature header: a re-ingest does not verify again.
   */
  replayHeaders?: readonly string[];
  /**
   * The part of a parsed body that identifies its content, when the raw bytes differ between
   * redeliveries of one event (Mailgun signs each delivery anew inside the body). A quarantined
   * request is kept once per content; default: the raw bytes.
   */
  contentOf?(json: unknown): unknown;
  /** Schema of the body; unknown keys are kept. */
  schema: z.ZodType<T>;
  /** Derives the event id, type and entity. */
  identify(event: T, req: SourceRequest): EventIdentity;
  /** Last check needing the event id and shared state (token binding). Throws to refuse. */
  bind?(event: T, identity: EventIdentity, ctx: SourceContext): Promise<void>;
}
