import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import {
  IntakeHttpError,
  PayloadTooLargeError,
  StoreError,
  TokenBoundError,
  UnavailableError,
  ValidationError,
  withoutValues,
  type ValidationIssue,
} from '../errors';
import { eventArchiveFor } from './archive';
import { payloadOffloadFor, type PreparedPayload } from './payload-offload';
import type { AcceptedEvent, Refusal } from '../sources/accept';
import type { SourceAnswer } from '../sources/presets/preset';
import type { AnySource, BoundEvent, EventIdentity, SourceContext, SourceRequest } from '../sources/types';
import type { ArchiveRow } from '../store/event-archive';
import { contentSha256, type Quarantine } from '../store/quarantine';
import type { SpooledStart, SpoolReason, StartSpool } from '../store/start-spool';
import type { WriteHealth } from '../store/write-health';
import type { SpoolRelay } from './spool-relay';
import type { SpoolWriter } from './spool-writer';
import type { StartLimiter } from './start-limiter';
import { processEventInput, startEvent, startRefusal } from './workflow-start';

/** The answer to one accepted or redelivered webhook. */
export interface IngestResult {
  /** The source's success status for a new event; `200` for a duplicate. */
  status: 200 | 201 | 202;
  body: { id: string; status: 'accepted' | 'duplicate' };
  eventType: string;
  /** Set when the event was acknowledged from the spool rather than started. */
  spooled?: SpoolReason;
  /** The start was eager: its first workflow task went straight to this process's worker. */
  eager?: true;
}

/** A verified handshake the source answered itself (a URL verification challenge): nothing started. */
export interface AnsweredResult {
  answered: SourceAnswer;
}

/** What the ingest pipeline needs. */
export interface IngestDeps extends SourceContext {
  client: Client;
  config: Config;
  /** Bounds concurrent starts; unbounded when absent. */
  startLimiter?: StartLimiter;
  /**
   * The start spool, its relay and its group-commit writer; without them a start Temporal cannot
   * persist is a 503.
   */
  spool?: { store: StartSpool; relay: SpoolRelay; writer: SpoolWriter };
  /** Where signed but schema-broken requests are kept; without it they are only refused. */
  quarantine?: Quarantine;
  /** Called when a request was quarantined (metrics). */
  onQuarantined?: (id: string) => void;
  /** Told about each store call, so /readyz can report a store that refuses writes. */
  writeHealth?: WriteHealth;
}

/** Options of {@link ingest}. */
export interface IngestOptions {
  /** The request's signature was verified when it was first received (re-ingest from quarantine). */
  alreadyVerified?: boolean;
  /**
   * The request's token was bound to it when it was quarantined (Source.bindRejected): it won the
   * token then, so `bind` is skipped (its binding may have expired, or name the content).
   */
  tokenBound?: boolean;
}

/** Thrown (422) after a signed request failed the schema and was kept in quarantine. */
export class QuarantinedValidationError extends ValidationError {
  constructor(
    issues: ValidationIssue[],
    /** The quarantine row, `rejected:<uuid>`. */
    readonly rejectedId: string,
  ) {
    super(issues);
  }
}

/**
 * One webhook, after routing and the body-size limit: the source accepts it (signature, JSON,
 * schema, event id: Source.accept, one call) → binding → workflow start. Resolves once Temporal has
 * persisted the start, or, while Temporal cannot, once the store has persisted the event in the start spool; throws an IntakeHttpError
 * otherwise (mapped to HTTP in src/api/error-handler.ts). A signed request that fails the schema is
 * kept in quarantine before the 422.
 */
export async function ingest(
  source: AnySource,
  req: SourceRequest,
  deps: IngestDeps,
  opts: IngestOptions = {},
): Promise<IngestResult | AnsweredResult> {
  const accepted = source.admit(req, deps, { alreadyVerified: opts.alreadyVerified });
  if (accepted.kind === 'answer') return { answered: accepted.answer };
  // From here on the request is authentic: a body the schema refuses is kept, not lost.
  if (accepted.kind === 'refused') return refuse(source, accepted, req, deps, opts);
  const { event, identity } = accepted;
  const { config } = deps;
  const route = routeOf(deps);
  try {
    // An event bound for the spool is bound only in the spool's transaction, with its row: binding
    // first as well cost every spooled event a second commit.
    let bound = !!opts.tokenBound;
    if (!route.spool && !bound) {
      try {
        await storeCall(deps, 'the store did not check the token', () => accepted.bind?.(deps));
      } catch (err) {
        if (!isOwnQuarantineBinding(err, accepted)) throw err;
        bound = true;
      }
    }
    const id = `${source.name}:${identity.eventId}`;
    // Large bodies go to the store before the start, so the history only holds a reference.
    const body = await storeCall(deps, 'the store did not keep the payload', () =>
      payloadOffloadFor(config).prepare(deps.store, id, accepted.payload, accepted.payloadBytes),
    );
    const start = spooledStart(source, req, deps.config, id, identity, body);
    // Archived before the acknowledgement: here for a direct start, in the spool's transaction for a
    // spooled one. A settled archived event is a redelivery even after Temporal deleted its workflow.
    const archived = await archiveRow(start, event, config);
    if (!route.spool) {
      const settled = await storeCall(deps, 'the store did not archive the event', () =>
        eventArchiveFor(config).record(deps.store, archived),
      );
      if (settled) return { status: 200, body: { id, status: 'duplicate' }, eventType: identity.eventType };
    }
    const ownBinding = (err: unknown) => isOwnQuarantineBinding(err, accepted);
    return await startOrSpool(
      { source, accepted, identity, id, start, route, bound, ownBinding, archived },
      deps,
    );
  } finally {
    route.release?.();
  }
}

/** Where an event goes, decided before anything of it is written. */
interface Route {
  /** Straight to the spool, for this reason. */
  spool?: SpoolReason;
  /** A direct start holding this start-limiter slot (released when ingest ends). */
  release?: () => void;
}

/**
 * While Temporal is known to be down or older events wait in the spool, the event queues behind
 * them; when the start limiter has no free slot, it is spooled as `overloaded`. Otherwise it is
 * started directly, in a limiter slot taken now: in a burst, the requests read in one turn of the
 * event loop all see the limiter as it is, instead of all passing this point before any of them
 * reached it.
 */
function routeOf(deps: IngestDeps): Route {
  const spool = deps.spool && deps.config.spoolMaxDepth > 0 ? deps.spool : undefined;
  if (!spool) return {};
  if (spool.relay.spooling) return { spool: spool.relay.temporalUnavailable ? 'unavailable' : 'backlog' };
  if (!deps.startLimiter) return {};
  const release = deps.startLimiter.tryAcquire();
  return release ? { release } : { spool: 'overloaded' };
}

/** One verified, identified event on its way into Temporal. */
interface ReadyEvent {
  source: AnySource;
  /** The accepted event, with its own binding steps. */
  accepted: BoundEvent;
  identity: EventIdentity;
  id: string;
  start: SpooledStart;
  route: Route;
  /** The token was bound when the request was quarantined: nothing to bind now. */
  bound: boolean;
  /** Whether a binding refusal is this request's own quarantine binding (see isOwnQuarantineBinding). */
  ownBinding: (err: unknown) => boolean;
  /** Its archive row (src/store/event-archive.ts). */
  archived: ArchiveRow;
}

/**
 * Starts the event's workflow, or keeps it in the start spool when Temporal cannot persist the
 * start (down, slow, overloaded) or older events wait there; 503 when neither is possible.
 */
async function startOrSpool(ready: ReadyEvent, deps: IngestDeps): Promise<IngestResult> {
  const { source, accepted: event, identity, id, start, route, bound, ownBinding, archived } = ready;
  const { config, client } = deps;
  const accepted = (spooled?: SpoolReason): IngestResult => ({
    status: source.successStatus,
    body: { id, status: 'accepted' },
    eventType: identity.eventType,
    ...(spooled ? { spooled } : {}),
  });
  const duplicate: IngestResult = {
    status: 200,
    body: { id, status: 'duplicate' },
    eventType: identity.eventType,
  };
  const toSpool = async (reason: SpoolReason): Promise<IngestResult> => {
    if (!deps.spool || config.spoolMaxDepth === 0)
      throw new UnavailableError(`Temporal did not persist the start (${reason})`);
    const { relay, writer } = deps.spool;
    if (!relay.hasRoom()) throw new UnavailableError('the start spool is full', 30);
    // The token binding and the spooled event commit together, in a transaction shared with the
    // events spooled at the same moment (group commit, ./spool-writer.ts). The binding is idempotent
    // for this event id, so repeating it is harmless when it already committed above.
    const add = (bind: boolean) =>
      storeCall(deps, 'neither Temporal nor the store persisted the event', () =>
        writer.add({
          start,
          reason,
          binding: bind ? event.binding?.(deps) : undefined,
          archived,
        }),
      );
    const added = await add(!bound).catch((err: unknown) => {
      if (!ownBinding(err)) throw err;
      return add(false);
    });
    if (!added) return duplicate;
    relay.noteSpooled(reason);
    return accepted(reason);
  };

  if (route.spool) return toSpool(route.spool);
  // The binding took a moment: if the spool began taking events meanwhile, queue behind them.
  if (deps.spool && config.spoolMaxDepth > 0 && deps.spool.relay.spooling)
    return toSpool(deps.spool.relay.temporalUnavailable ? 'unavailable' : 'backlog');
  const deadline = Date.now() + config.temporal.startTimeoutMs;
  const attempt = () => startEvent(client, config, start, deadline);
  let outcome;
  try {
    // A limiter slot is already held (routeOf), or there is no limiter.
    if (route.release || !deps.startLimiter) outcome = await attempt();
    else {
      const overloaded = () => new UnavailableError('too many starts in flight', 2);
      outcome = await deps.startLimiter.run(deadline, overloaded, attempt);
    }
  } catch (err) {
    if (err instanceof IntakeHttpError) throw err;
    // A start Temporal can never take is refused now, before any acknowledgement (the size checks
    // above make this rare: a server with lower limits than Temporal's defaults).
    const refusal = startRefusal(err);
    if (refusal === 'too-large') throw new PayloadTooLargeError(config.maxBodyBytes);
    if (refusal === 'invalid')
      throw new ValidationError([{ path: '(start)', message: 'Temporal refused the start as invalid' }]);
    return toSpool(Date.now() >= deadline ? 'timeout' : 'unavailable');
  }
  if (outcome === 'duplicate') return duplicate;
  return outcome === 'started-eagerly' ? { ...accepted(), eager: true } : accepted();
}

/** The start of one event: the workflow input and its search attributes. */
function spooledStart(
  source: AnySource,
  req: SourceRequest,
  config: Config,
  id: string,
  identity: EventIdentity,
  body: PreparedPayload,
): SpooledStart {
  const input = processEventInput(config, source, {
    id,
    source: source.name,
    eventId: identity.eventId,
    eventType: identity.eventType,
    entity: identity.entity,
    ...body,
    params: req.params,
    receivedAt: new Date().toISOString(),
  });
  return {
    workflowId: id,
    input,
    searchAttributes: { source: source.name, eventType: identity.eventType, entity: identity.entity },
  };
}

/** The archive row of an event about to be started or spooled. */
function archiveRow(start: SpooledStart, event: unknown, config: Config): Promise<ArchiveRow> {
  const { input } = start;
  return eventArchiveFor(config).row(
    {
      id: start.workflowId,
      source: input.source,
      eventType: input.eventType,
      entity: input.entity,
      params: input.params,
      receivedAt: new Date(input.receivedAt),
    },
    event,
  );
}

/**
 * Runs a store call, bounded by INTAKE_STORE_TIMEOUT_MS: a store failure, or no answer in time (a
 * frozen PostgreSQL), becomes 503 with Retry-After (the provider retries); refusals pass through.
 * A call that answers late still completes in the background, harmlessly: every store write of
 * ingest is idempotent per event id, so the provider's retry finds it (a duplicate) or repeats it.
 */
async function storeCall<T>(deps: IngestDeps, what: string, fn: () => Promise<T> | T): Promise<T> {
  const timeoutMs = deps.config.storeTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeout()), timeoutMs);
  });
  try {
    const result = await Promise.race([Promise.resolve().then(fn), timedOut]);
    deps.writeHealth?.noteSuccess();
    return result;
  } catch (err) {
    if (err instanceof IntakeHttpError) {
      // A refusal is an answer: the store worked.
      deps.writeHealth?.noteSuccess();
      throw err;
    }
    if (err instanceof StoreTimeout)
      throw new UnavailableError(`${what}: the store did not answer within ${timeoutMs} ms`);
    deps.writeHealth?.noteFailure(err);
    // Reduced before it travels: a PostgreSQL message can quote a value from the request.
    const safe = withoutValues(err);
    throw new UnavailableError(`${what}: ${safe instanceof StoreError ? safe.message : safe.name}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The store did not answer a call on the ingest path within INTAKE_STORE_TIMEOUT_MS. */
class StoreTimeout extends Error {
  override readonly name = 'StoreTimeout';
}

/** The key a quarantined request's token is bound to (Source.bindRejected): its content's hash. */
function rejectedKey(content: Buffer | string): string {
  return `rejected:sha256:${contentSha256(content)}`;
}

/**
 * Whether a token binding that refused this request is the request's own quarantine binding: the
 * same delivery (same signature block, same content), re-sent once a schema fix lets it through.
 * Only then is it a redelivery rather than a forged copy.
 */
function isOwnQuarantineBinding(err: unknown, accepted: AcceptedEvent<unknown>) {
  return (
    err instanceof TokenBoundError &&
    err.boundTo.startsWith('rejected:') &&
    err.boundTo === rejectedKey(accepted.content())
  );
}

/** Quarantines a signed request whose body failed the schema (once), then refuses it with 422. */
async function refuse(
  source: AnySource,
  refused: Refusal,
  req: SourceRequest,
  deps: IngestDeps,
  opts: IngestOptions,
): Promise<never> {
  const { issues } = refused;
  // A re-ingest that still fails keeps its existing row.
  if (!deps.quarantine || opts.alreadyVerified) throw new ValidationError(issues);
  const quarantine = deps.quarantine;
  const content = refused.content();
  // The token is bound to this content before anything is kept: a replay of the signature block
  // with other content is refused (401) and stores nothing.
  const tokenBinding = source.bindRejected ? rejectedKey(content) : undefined;
  if (tokenBinding)
    await storeCall(deps, 'the store did not check the token', () =>
      source.bindRejected!(refused.json, tokenBinding, deps),
    );
  // If the store cannot keep it, the provider must retry: 503, never a 422 that loses it.
  const rejectedId = await storeCall(deps, 'the store did not keep the rejected event', () =>
    quarantine.keep({
      source: source.name,
      params: req.params,
      headers: refused.headers,
      rawBody: req.rawBody,
      content,
      issues,
      tokenBinding,
    }),
  );
  deps.onQuarantined?.(rejectedId);
  throw new QuarantinedValidationError(issues, rejectedId);
}
