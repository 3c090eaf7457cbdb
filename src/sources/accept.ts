import type { z } from 'zod';
import type { ValidationIssue } from '../errors';
import { parseJsonStrict } from './json';
import type { SourceAnswer } from './presets/preset';
import type { EventIdentity, SourceContext, SourceRequest } from './types';

/** Options of Source.accept. */
export interface AcceptOptions {
  /**
   * The request's signature was verified when it was first received (a re-ingest from quarantine):
   * no verification, and no handshake answer.
   */
  alreadyVerified?: boolean;
}

/** A verified request that is an event, identified and ready to start. */
export interface AcceptedEvent<T = unknown> {
  kind: 'event';
  /** The body the schema validated. */
  event: T;
  identity: EventIdentity;
  /** What the workflow input carries as `payload` (default the validated body). */
  payload: unknown;
  /** An upper bound of `payload`'s JSON size in bytes, for the offload decision before serialising. */
  payloadBytes: number;
  /** What makes two requests the same event, as the quarantine keys it (see {@link RequestSteps.contentOf}). */
  content(): Buffer | string;
}

/** A verified handshake (a URL verification challenge) the source answers itself: no event. */
export interface AcceptedAnswer {
  kind: 'answer';
  answer: SourceAnswer;
}

/**
 * An authentic request whose body the schema (or the event-id rule) refuses: the typed refusal the
 * ingress keeps in quarantine before answering 422. An unauthentic or unparsable request is not a
 * refusal value: `accept` throws its error (InvalidSignatureError 401, InvalidJsonError 400,
 * ValidationError 422), mapped to HTTP in one place (src/api/error-handler.ts).
 */
export interface Refusal {
  kind: 'refused';
  issues: ValidationIssue[];
  /** The parsed body, for the source's `bindRejected`. */
  json: unknown;
  /** The request's content key (see AcceptedEvent.content). */
  content(): Buffer | string;
  /** The request headers a later re-ingest needs (RequestSteps.replayHeaders), by lower-case name. */
  headers: Record<string, string>;
}

/** What Source.accept answers. */
export type Acceptance<T = unknown, E = object> = (AcceptedEvent<T> & E) | AcceptedAnswer | Refusal;

/**
 * The steps a source's `accept` is made of, run in this order by {@link acceptRequest}: verifyRaw
 * (raw bytes) → JSON parse → verifyParsed → answer → schema → identify. A source supplies the ones
 * its provider needs; they are the source's own (not part of the Source seam).
 */
export interface RequestSteps<T> {
  /** Checks authenticity before parsing, when the signature covers the raw bytes. Throws to refuse. */
  verifyRaw?(req: SourceRequest, ctx: SourceContext): void;
  /** Checks authenticity after JSON parsing, when the signature lives in the body. Throws to refuse. */
  verifyParsed?(json: unknown, req: SourceRequest, ctx: SourceContext): void;
  /**
   * Answers a verified request that is a handshake rather than an event (a URL verification
   * challenge), before the schema. Undefined for an event.
   */
  answer?(json: unknown, req: SourceRequest): SourceAnswer | undefined;
  /** Derives the event id, type and entity from the validated body. */
  identify(event: T, req: SourceRequest): EventIdentity;
  /**
   * Request headers `identify` reads (besides the body), kept with a quarantined request so it can
   * be re-ingested later. Never a signature header: a re-ingest does not verify again.
   */
  replayHeaders?: readonly string[];
  /**
   * The part of a parsed body that identifies its content, when the raw bytes differ between
   * redeliveries of one event (a provider that signs each delivery anew inside the body). A
   * quarantined request is kept once per content; default: the raw bytes.
   */
  contentOf?(json: unknown): unknown;
  /**
   * What the workflow input carries as `payload`; default the validated body. A file source carries
   * the raw body text and its content type, so the delivery is byte-identical to what was received.
   */
  workflowPayload?(event: T, req: SourceRequest): unknown;
}

const EVENT_ID = /^[\x21-\x7e]{1,200}$/; // printable ASCII, no spaces: safe in ids, queries and logs

/**
 * Runs a source's steps over one request: the one implementation of Source.accept that every
 * source (code, preset and sources-file) calls with its own steps and schema.
 */
export function acceptRequest<T>(
  steps: RequestSteps<T>,
  schema: z.ZodType<T>,
  req: SourceRequest,
  ctx: SourceContext,
  opts: AcceptOptions = {},
): Acceptance<T> {
  if (!opts.alreadyVerified) steps.verifyRaw?.(req, ctx);
  const json = parseJsonStrict(req.rawBody);
  if (!opts.alreadyVerified) steps.verifyParsed?.(json, req, ctx);
  // Only an authentic request is answered: the handshake proves the secret to the provider.
  const answer = opts.alreadyVerified ? undefined : steps.answer?.(json, req);
  if (answer) return { kind: 'answer', answer };
  const content = () => (steps.contentOf ? JSON.stringify(steps.contentOf(json) ?? null) : req.rawBody);
  // From here on the request is authentic: a body the schema refuses is kept, not lost.
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: i.path.map(String).join('.') || '(root)',
      message: i.message,
    }));
    return refusal(steps, req, json, content, issues);
  }
  const event = parsed.data;
  const identity = steps.identify(event, req);
  if (!EVENT_ID.test(identity.eventId)) {
    return refusal(steps, req, json, content, [
      { path: 'id', message: 'event id must be 1-200 printable ASCII characters' },
    ]);
  }
  return {
    kind: 'event',
    event,
    identity,
    payload: steps.workflowPayload ? steps.workflowPayload(event, req) : event,
    // The raw body as a JSON string: valid JSON text has no raw control characters, so escaping
    // (`"`, `\\`, newline, tab) at most doubles it; the wrapper adds a few bytes.
    payloadBytes: steps.workflowPayload ? req.rawBody.length * 2 + 512 : req.rawBody.length,
    content,
  };
}

function refusal<T>(
  steps: RequestSteps<T>,
  req: SourceRequest,
  json: unknown,
  content: () => Buffer | string,
  issues: ValidationIssue[],
): Refusal {
  const headers: Record<string, string> = {};
  for (const name of steps.replayHeaders ?? []) {
    const v = req.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  return { kind: 'refused', issues, json, content, headers };
}
