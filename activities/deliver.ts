import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Webhook } from 'standardwebhooks';
import { Pool } from 'undici';
import { PermanentProcessingError, RetryLaterError } from '../src/errors';
import type { Delivery, RawDelivery } from '../src/sources/file/file-source';
import type { Source } from '../src/sources/types';
import type { HandlerInput } from '../workflows/types';
import type { ProcessServices } from './run-handler';

/** At most this much of a refusing receiver's answer goes into `lastError` (never the payload). */
export const ERROR_BODY_BYTES = 200;
/** A Retry-After longer than this is capped: the event would otherwise look stuck. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * One connection pool per destination (origin and timeout): deliveries to one service reuse their
 * keep-alive connections, and a slow service does not hold the connections of another.
 */
const pools = new Map<string, Pool>();

function poolFor(origin: string, timeoutMs: number): Pool {
  const key = `${origin} ${timeoutMs}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new Pool(origin, {
      connections: 64,
      connectTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    pools.set(key, pool);
  }
  return pool;
}

/** Closes every delivery pool (worker shutdown, tests). */
export async function closeDeliveryPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close().catch(() => undefined)));
}

const propagator = new W3CTraceContextPropagator();

/** Milliseconds a Retry-After asks for (delta-seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const ms = /^\s*\d+\s*$/.test(v) ? Number(v) * 1000 : Date.parse(v) - nowMs;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** The first bytes of a response body, read no further (a huge error page is not downloaded). */
async function head(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    n += chunk.length;
    if (n >= ERROR_BODY_BYTES) break;
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES).toString('utf8');
}

const isRawDelivery = (p: unknown): p is RawDelivery =>
  typeof p === 'object' && p !== null && typeof (p as RawDelivery).body === 'string';

/** The Standard Webhooks and Intake headers of one delivery attempt. */
function deliveryHeaders(delivery: Delivery, input: HandlerInput, payload: RawDelivery, span?: Span) {
  const now = new Date();
  const headers: Record<string, string> = {
    'content-type': payload.contentType,
    'webhook-id': input.eventId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(delivery.secret).sign(input.eventId, now, payload.body),
    'intake-source': input.source,
    'intake-event-type': input.eventType,
  };
  // A replay (archive and replay) re-sends the event under the same webhook-id; its revision tells
  // a receiver that dedups by webhook-id that this one is meant to be applied again.
  const revision = (input as HandlerInput & { revision?: number }).revision;
  if (typeof revision === 'number' && revision > 1) headers['intake-revision'] = String(revision);
  if (span)
    propagator.inject(trace.setSpan(context.active(), span), headers, {
      set: (carrier, key, value) => ((carrier as Record<string, string>)[key] = value),
    });
  return headers;
}

/**
 * The processing of a file source's event: `POST` of the body exactly as received to
 * `deliver.url`, signed per Standard Webhooks with `deliver.secret`. `2xx` is done. A timeout, a
 * connection error, `408`, `429` and `5xx` are retried under the retry policy (a `Retry-After` sets
 * the next attempt's delay); any other answer parks the event at once (PermanentProcessingError).
 * `lastError` gets the status and at most 200 bytes of the answer, never the payload. Each attempt
 * sends the same `webhook-id` (the event id): the receiver dedups by it, since a delivery can repeat
 * after a crash between its `2xx` and the workflow recording it.
 */
export async function deliver(
  delivery: Delivery,
  input: HandlerInput,
  services: ProcessServices = {},
): Promise<{ applied: boolean }> {
  const payload = input.payload;
  if (!isRawDelivery(payload)) throw new PermanentProcessingError('the event carries no raw body to deliver');
  const url = new URL(delivery.url);
  const count = (outcome: 'delivered' | 'retry' | 'permanent') =>
    services.onDelivery?.(input.source, outcome);
  const span = services.tracer?.startSpan('intake.deliver', {
    kind: SpanKind.CLIENT,
    attributes: { 'intake.event_id': input.id },
  });
  try {
    let res;
    try {
      res = await poolFor(url.origin, delivery.timeoutMs).request({
        path: url.pathname + url.search,
        method: 'POST',
        headers: deliveryHeaders(delivery, input, payload, span),
        body: payload.body,
        signal: AbortSignal.timeout(delivery.timeoutMs),
      });
    } catch (err) {
      count('retry');
      const code = (err as { code?: string }).code ?? (err as Error).name;
      throw new Error(`delivery to ${url.origin} failed: ${code}`, { cause: err });
    }
    span?.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 200 && res.statusCode < 300) {
      await res.body.dump();
      count('delivered');
      return { applied: true };
    }
    const text = await head(res.body).catch(() => '');
    res.body.destroy();
    const message = `HTTP ${res.statusCode}${text ? `: ${text}` : ''}`;
    if (res.statusCode === 408 || res.statusCode === 429 || res.statusCode >= 500) {
      count('retry');
      const after = retryAfterMs(res.headers['retry-after']);
      throw after === undefined ? new Error(message) : new RetryLaterError(message, after);
    }
    count('permanent');
    throw new PermanentProcessingError(message);
  } catch (err) {
    span?.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name });
    throw err;
  } finally {
    span?.end();
  }
}

/** A file source's processing: delivery to its `deliver` destination (joined by the registry). */
export function deliverTo(delivery: Delivery): Source['process'] {
  return (_store, services) => (input) => deliver(delivery, input, services);
}
