import type { IncomingHttpHeaders } from 'node:http';
import type { z } from 'zod';
import type { ProcessFn, ProcessServices } from '../../activities/run-handler';
import type { Acceptance, AcceptOptions } from './accept';
import { IntakeHttpError } from '../errors';
import type { Queryable, Store } from '../store/store';

/** What a source sees of one request. */
export interface SourceRequest {
  /** Route parameters (e.g. `partner`). */
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The exact bytes received; signatures are checked against these. */
  rawBody: Buffer;
  /** The URL the request was sent to (scheme, host and path as received), for schemes that sign it. */
  url?: string;
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

/**
 * The part of the parsed config a source reads. Structural, so that src/config/index.ts (which builds its
 * schema from the registry) and the sources do not import each other.
 */
export interface SourceConfig {
  /** Each source's parsed settings, keyed by source name (Config.sources). */
  sources: Record<string, unknown>;
  /** INTAKE_SIGNATURE_TOLERANCE_S. */
  signatureToleranceS: number;
}

/** Services a source may use while authenticating a request. */
export interface SourceContext {
  config: SourceConfig;
  store: Store;
  /** The transaction a binding belongs to (the start spool's), when there is one. */
  tx?: Queryable;
}

/** A ready-to-send webhook request. */
export interface SignedRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** The example `intake send <source> --example` posts, and where its processed data can be read. */
export interface SourceExample {
  request: SignedRequest;
  /** The read route of the processed data: a label (`Message id`), the entity id and the path. */
  read: { label: string; id: string; path: string };
  /** A file source's destination: its processed data is at the user's service, not in Intake. */
  deliveredTo?: string;
}

/**
 * A webhook source: one file in src/sources/ plus one activity, joined by one line in
 * src/sources/registry.ts. It carries everything about its provider: its environment variables and
 * when it is on, the secrets it needs and how to generate development ones, the example
 * `intake send` posts, the request pipeline and the processing activity.
 *
 * The pipeline (src/ingest/pipeline.ts) asks it once, `accept` (signature, JSON, schema, identity),
 * then `bind` (optional, e.g. replay protection needing the event id), then starts the workflow.
 *
 * `T` is the validated body, `S` the source's settings (parsed from its environment variables).
 */
export interface Source<T = unknown, S = unknown> {
  /** Name used in workflow ids, INTAKE_SOURCES, INTAKE_RATE_LIMITS and the IntakeSource search attribute. */
  name: string;
  /** Express route below /webhooks, e.g. `<name>` or `<name>/:param`. */
  route: string;
  /**
   * The activity name this source's events scheduled before the typed handler activity
   * (`handle<Source>`); new runs call `handleEvent`, which dispatches on the event's source. Kept,
   * in the input and registered by the worker, while runs of that shape may replay
   * (HISTORY_SHAPES.handlerByName in workflows/history-shapes.ts).
   */
  activity: string;
  /**
   * The status a new, persisted event is answered with: the provider's documented success (some
   * providers treat only `200` as success; Standard Webhooks senders accept any 2xx, `202`). A
   * duplicate is always `200`.
   */
  successStatus: 200 | 201 | 202;
  /**
   * The environment variables this source reads, merged into the one env schema of src/config/index.ts
   * (parsed once, at start-up). Unset secrets are allowed there: they turn the source off.
   */
  env: Record<string, z.ZodType>;
  /** The source's settings from its parsed variables (`env`); throws ConfigError naming the variable. */
  settings(env: Record<string, unknown>): S;
  /** The variable holding the source's secret(s), named when an enabled source lacks them. */
  secretVariable: string;
  /** True when `settings` hold the secrets the source needs (it is on when INTAKE_SOURCES is unset). */
  hasSecrets(settings: S): boolean;
  /** Whether a request with these route parameters can be served (e.g. a secret for this partner). Default yes. */
  accepts?(settings: S, params: Record<string, string>): boolean;
  /** Development secrets, as values of the source's variables (`intake dev` when none are set). */
  devSecrets(): Record<string, string>;
  /** A correctly signed example for `intake send <source> --example`; throws if `settings` lack secrets. */
  example(settings: S, opts: { event?: string }): SourceExample;
  /**
   * The one question the ingress asks a source about a request: verify its signature, parse,
   * answer a handshake, validate against `schema` and identify the event. Answers the accepted
   * event (with its identity and workflow payload), the handshake answer, or a typed refusal of an
   * authentic body the schema refuses (kept in quarantine); throws InvalidSignatureError,
   * InvalidJsonError or ValidationError for what is refused outright. Token binding is separate
   * (`bind`): it needs the store. Sources implement it with acceptRequest (./accept.ts) and their own
   * steps.
   */
  accept(req: SourceRequest, ctx: SourceContext, opts?: AcceptOptions): Acceptance<T>;
  /** Schema of the body; unknown keys are kept. The activity validates its payload with it too. */
  schema: z.ZodType<T>;
  /**
   * For a signed request the schema refused, before it is quarantined: binds what the signature
   * authenticates (a token) to `key`, which names the request's content (`rejected:sha256:<hex>` of
   * `contentOf`, or of the raw bytes). Throws InvalidSignatureError (TokenBoundError) when the token
   * is already bound to anything else: a signature block replayed with other content is refused
   * instead of being kept, and a forged copy can never win the token later (a re-ingest of a row
   * that has a binding skips `bind`). Needed by sources whose signature does not cover the content.
   */
  bindRejected?(json: unknown, key: string, ctx: SourceContext): Promise<void>;
  /** Last check needing the event id and shared state (token binding). Throws to refuse. */
  bind?(event: T, identity: EventIdentity, ctx: SourceContext): Promise<void>;
  /**
   * `bind` for many events in one transaction (`ctx.tx`; the start spool's group commit): per
   * event, undefined when it is bound, or the error `bind` would have thrown to refuse it. Optional:
   * without it each event is bound with `bind`, one statement after the other.
   */
  bindMany?(
    items: { event: T; identity: EventIdentity }[],
    ctx: SourceContext,
  ): Promise<(Error | undefined)[]>;
  /** Deletes the source's expired bindings (see `bind`); returns how many. Run by the token sweeper. */
  sweep?(q: Queryable): Promise<number>;
  /**
   * Its activity: the processing of one event (activities/<source>.ts), wrapped by runHandler and
   * run by the `handleEvent` activity for this source's events. Set by the registry line that joins the source and its activity.
   *
   * The processing contract, which makes events both retry-safe and replay-safe:
   *  - It runs the ledger first, `markProcessed(q, input.id, input.source, input.eventType,
   *    input.revision)` (src/store/ledger.ts), in the same transaction as its own writes, and
   *    applies its effect only when that returns true. A redelivery or a retried attempt of the
   *    same revision then changes nothing.
   *  - `input.revision` is 1 on the first processing and 1 + n after n replays (`intake events
   *    replay`: the event runs again through the current code, from the archive). A revision above
   *    1 must REPLACE the event's earlier effect, never add to it: the result must be exactly what
   *    the current code would have written had it processed the event the first time, so a replay
   *    counts nothing twice and a second replay changes nothing. Keep state derivable from the
   *    recorded events (recompute an entity from its events) or make writes idempotent per event
   *    (last-write-wins by a version, the same event replacing its own write).
   *  - An effect outside the store (a delivery to another service) cannot join the transaction: it
   *    must carry the event id and revision (e.g. an idempotency key `<id>:<revision>`) so its
   *    receiver can tell a replay, to apply, from a redelivery, to drop.
   */
  process(store: Store, services?: ProcessServices): ProcessFn;
}

/** A source as its file defines it: everything but its activity, which the registry joins to it. */
export type SourceDefinition<T = unknown, S = unknown> = Omit<Source<T, S>, 'process'>;

/**
 * A source's settings-typed questions with its settings type bound in at registration
 * ({@link configuredQuestions}): each looks up the source's own settings in the config, so callers
 * holding a source of unknown settings type ask it without a cast.
 */
export interface ConfiguredQuestions {
  /** Source.hasSecrets of its settings in `config`; false when `config` has none for it. */
  hasSecrets(config: Pick<SourceConfig, 'sources'>): boolean;
  /** Source.accepts of its settings in `config` (default yes). */
  accepts(config: Pick<SourceConfig, 'sources'>, params: Record<string, string>): boolean;
  /** Source.example with its settings in `config`. */
  example(config: Pick<SourceConfig, 'sources'>, opts: { event?: string }): SourceExample;
}

/**
 * A registered source of any body and settings type: its definition, its processing and its
 * settings-typed questions bound to its own settings type (`configured`).
 */
export type AnySource = Omit<
  Source<unknown, unknown>,
  'bind' | 'bindMany' | 'hasSecrets' | 'accepts' | 'example'
> & {
  configured: ConfiguredQuestions;
  /** Source.accept, its accepted event carrying its own binding steps ({@link BoundEvent}). */
  admit(req: SourceRequest, ctx: SourceContext, opts?: AcceptOptions): Acceptance<unknown, BoundEvent>;
};

/**
 * What an accepted event of any source carries besides its body: its own binding steps, bound to
 * the source's body type at registration, so the pipeline binds it without knowing that type.
 */
export interface BoundEvent {
  /** Source.bind for this event; undefined when the source binds nothing. */
  bind?: (ctx: SourceContext) => Promise<void>;
  /**
   * This event as one of many bound in one transaction (the start spool's group commit): `bindAll`
   * is one function per source (the writer groups by it), `item` this event. Undefined when the
   * source binds nothing.
   */
  binding?: (ctx: SourceContext) => GroupBinding;
}

/** One event's part of a group binding: see BoundEvent.binding. */
export interface GroupBinding {
  bindAll: (tx: Queryable, items: unknown[]) => Promise<(Error | undefined)[]>;
  item: unknown;
}

/**
 * Source.accept with the binding steps bound to the source's body type: the accepted event carries
 * `bind` and `binding` ({@link BoundEvent}).
 */
export function boundAccept<T, S>(source: SourceDefinition<T, S>): AnySource['admit'] {
  const bind = source.bind?.bind(source);
  if (!bind) return (req, ctx, opts) => source.accept(req, ctx, opts);
  // The events waiting for a group binding, by their opaque item.
  const waiting = new WeakMap<object, { event: T; identity: EventIdentity; ctx: SourceContext }>();
  const bindAll = async (tx: Queryable, items: unknown[]): Promise<(Error | undefined)[]> => {
    const typed = items.map((item) => {
      const w = typeof item === 'object' && item !== null ? waiting.get(item) : undefined;
      if (!w) throw new Error(`an event of another source in the ${source.name} binding group`);
      return w;
    });
    if (typed.length === 0) return [];
    const ctx = { ...typed[0]!.ctx, tx };
    if (source.bindMany) return source.bindMany(typed, ctx);
    const outcomes: (Error | undefined)[] = [];
    for (const i of typed) {
      try {
        await bind(i.event, i.identity, { ...i.ctx, tx });
        outcomes.push(undefined);
      } catch (err) {
        if (!isRefusal(err)) throw err;
        outcomes.push(err);
      }
    }
    return outcomes;
  };
  return (req, ctx, opts) => {
    const accepted = source.accept(req, ctx, opts);
    if (accepted.kind !== 'event') return accepted;
    const { event, identity } = accepted;
    return {
      ...accepted,
      bind: (c: SourceContext) => bind(event, identity, c),
      binding: (c: SourceContext): GroupBinding => {
        const item = {};
        waiting.set(item, { event, identity, ctx: c });
        return { bindAll, item };
      },
    };
  };
}

/** The settings-typed questions of `source`, bound to its settings type (the registry adds them). */
export function configuredQuestions<T, S>(source: SourceDefinition<T, S>): ConfiguredQuestions {
  const has = (config: Pick<SourceConfig, 'sources'>) => config.sources[source.name] !== undefined;
  return {
    hasSecrets: (config) => has(config) && source.hasSecrets(settingsOf(config, source)),
    accepts: (config, params) => source.accepts?.(settingsOf(config, source), params) ?? true,
    example: (config, opts) => source.example(settingsOf(config, source), opts),
  };
}

/** A refusal of one event (an HTTP answer), as opposed to a failure of the whole binding. */
const isRefusal = (err: unknown): err is IntakeHttpError => err instanceof IntakeHttpError;

/** The parsed settings of `source` in `config` (Config.sources, keyed by name). */
export function settingsOf<S>(
  config: Pick<SourceConfig, 'sources'>,
  source: { name: string; settings(env: Record<string, unknown>): S },
): S {
  return config.sources[source.name] as S;
}
