import { createHash } from 'node:crypto';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';

/**
 * Span attributes that hold an event's id: the workflow id the Temporal interceptors record, and
 * Intake's own. A workflow id is `<source>:<eventId>`; event ids may be derived from customer data
 * (a file source's `eventId: { jsonPointer: /data/customer_id }`, a partner's webhook id), so they
 * leave the process only hashed.
 */
export const ID_ATTRIBUTES = ['temporalWorkflowId', 'intake.event_id', 'workflowId'] as const;

/**
 * Attributes dropped: the workflow interceptors record the whole WorkflowInfo on workflow spans,
 * whose search attributes hold the entity (a message id, a customer id), and whose memo, last result
 * and last failure may hold anything.
 */
export const DROPPED_ATTRIBUTES = [
  'searchAttributes',
  'typedSearchAttributes',
  'memo',
  'lastResult',
  'lastFailure',
] as const;

/**
 * The value exported in place of an id: `sha256:` and the first 16 hex digits of its SHA-256.
 * Find the trace of an event by hashing its id the same way:
 * `printf %s '<source>:<eventId>' | sha256sum | cut -c1-16`.
 */
export function hashedId(id: string): string {
  return `sha256:${createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 16)}`;
}

const scrub = (text: string, ids: readonly string[]): string =>
  ids.reduce((t, id) => t.split(id).join(hashedId(id)), text);

const isId = (k: string) => (ID_ATTRIBUTES as readonly string[]).includes(k);
const isDropped = (k: string) => (DROPPED_ATTRIBUTES as readonly string[]).includes(k);

/** A value with ids hashed, at any depth (WorkflowInfo's `parent` and `root` hold workflow ids too). */
function scrubValue(v: unknown, ids: readonly string[], key?: string): unknown {
  if (typeof v === 'string') return key !== undefined && isId(key) ? hashedId(v) : scrub(v, ids);
  if (Array.isArray(v)) return v.map((x: unknown) => scrubValue(x, ids));
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (!isDropped(k)) out[k] = scrubValue(x, ids, k);
    return out;
  }
  return v;
}

function scrubAttributes<T extends Record<string, unknown> | undefined>(attrs: T, ids: readonly string[]): T {
  if (!attrs) return attrs;
  return scrubValue(attrs, ids) as T;
}

/**
 * A span processor in front of the exporting one that hashes ids before spans leave the process:
 * the values of ID_ATTRIBUTES (at any depth), and any occurrence of those ids elsewhere in the span
 * (other attributes, event attributes such as an exception's message, the status message); the
 * DROPPED_ATTRIBUTES are left out. Span names
 * carry only workflow and activity types. Workflow spans, handed out of the sandbox through the
 * worker's `exporter` sink, pass through it too.
 */
export class RedactingSpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const ids = ID_ATTRIBUTES.map((k) => span.attributes[k]).filter(
      (v): v is string => typeof v === 'string' && v.length > 0,
    );
    const events: TimedEvent[] = span.events.map((e) => ({
      ...e,
      attributes: scrubAttributes(e.attributes, ids),
    }));
    const redacted = Object.create(span, {
      attributes: { value: scrubAttributes(span.attributes, ids), enumerable: true },
      events: { value: events, enumerable: true },
      status: {
        value: {
          ...span.status,
          ...(span.status.message ? { message: scrub(span.status.message, ids) } : {}),
        },
        enumerable: true,
      },
    }) as ReadableSpan;
    this.next.onEnd(redacted);
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}
