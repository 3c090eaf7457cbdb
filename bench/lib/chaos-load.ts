import { randomBytes } from 'node:crypto';
import { mailgunExample } from '../../src/sources/mailgun';
import { sleep } from './children';
import { BENCH_MAILGUN_KEY } from './mailgun-bodies';

/** What happened to every delivery the load loop sent. */
export interface LoadStats {
  /** Event ids answered accepted (200/202) or duplicate (200: an earlier attempt was accepted). */
  acked: Map<string, { firstSentAt: number; ackedAt: number; attempts: number }>;
  /** Every event id the loop created (acked or not). */
  sent: Set<string>;
  /** Event ids the loop gave up on (never acknowledged). */
  givenUp: Set<string>;
  /** Answers by status, `dup` for a 200 duplicate, `conn` for connection errors and timeouts. */
  answers: Record<string, number>;
  /** Every 202/200: [time sent, time answered], for recovery times. */
  acks: { sentAt: number; at: number }[];
  /** Every refusal the provider would retry (503, 500, connection errors): time answered. */
  failures: { at: number; status: string }[];
  duplicates: number;
}

/** Options of {@link startLoad}. */
export interface LoadOptions {
  /**
   * The API's base URL, or several replicas': attempts rotate over them as a load balancer's
   * would, so a redelivery after a connection error reaches another replica.
   */
  url: string | string[];
  /** Concurrent senders. */
  senders: number;
  /** Target new events per second over all senders. */
  rate: number;
  /** Message ids are drawn from this many, so per-message counters detect a double effect. */
  messages: number;
  /** A delivery still failing this long after the load stopped is given up. */
  giveUpAfterStopMs: number;
}

const EVENTS = ['delivered', 'opened', 'clicked', 'opened', 'failed'];

/**
 * A bounded signed load: `senders` concurrent loops, each sending a new unique Mailgun event at its
 * share of `rate`, and redelivering the same body on 5xx or a connection error (with a short
 * backoff, as a provider would) until it is acknowledged. `stop()` ends new events and resolves once
 * every delivery in flight is acknowledged or given up.
 */
export function startLoad(o: LoadOptions): { stats: LoadStats; stop: () => Promise<void> } {
  const stats: LoadStats = {
    acked: new Map(),
    sent: new Set(),
    givenUp: new Set(),
    answers: {},
    acks: [],
    failures: [],
    duplicates: 0,
  };
  const prefix = randomBytes(4).toString('hex');
  let seq = 0;
  let stopping = false;
  let stoppedAt = 0;
  const t0 = Date.now();
  let slot = 0;
  const count = (k: string) => (stats.answers[k] = (stats.answers[k] ?? 0) + 1);

  const urls = typeof o.url === 'string' ? [o.url] : o.url;
  let rr = 0;
  const deliver = async (eventId: string, body: string) => {
    const firstSentAt = Date.now();
    let backoff = 200;
    for (let attempt = 1; ; attempt++) {
      const sentAt = Date.now();
      let status: string;
      let retryAfterS = 0;
      try {
        const res = await fetch(`${urls[rr++ % urls.length]}/webhooks/mailgun`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        status = String(res.status);
        // Mailgun's success answer is 200 for a new event too: the body tells a duplicate.
        if (status === '200' && text.includes('"duplicate"')) status = 'dup';
        retryAfterS = Number(res.headers.get('retry-after') ?? 0);
      } catch {
        status = 'conn';
      }
      count(status);
      const at = Date.now();
      if (status === '202' || status === '200' || status === 'dup') {
        if (status === 'dup') stats.duplicates++;
        stats.acked.set(`mailgun:${eventId}`, { firstSentAt, ackedAt: at, attempts: attempt });
        stats.acks.push({ sentAt, at });
        return;
      }
      if (status !== 'conn' && !status.startsWith('5')) {
        // 4xx: the event is refused for good (not expected with correct signing); never acknowledged.
        stats.givenUp.add(`mailgun:${eventId}`);
        return;
      }
      stats.failures.push({ at, status });
      if (stopping && at - stoppedAt > o.giveUpAfterStopMs) {
        stats.givenUp.add(`mailgun:${eventId}`);
        return;
      }
      await sleep(Math.min(Math.max(retryAfterS * 1000, backoff), 1000));
      backoff = Math.min(backoff * 2, 1000);
    }
  };

  const sender = async () => {
    while (!stopping) {
      // Pace: slot k is due at t0 + k / rate; after an outage the schedule restarts from now
      // instead of bursting the whole missed backlog at once.
      let due = t0 + (slot++ * 1000) / o.rate;
      const now = Date.now();
      if (due < now - 1000) {
        slot = Math.ceil(((now - t0) * o.rate) / 1000);
        due = now;
      }
      if (due > now) await sleep(due - now);
      if (stopping) break;
      const n = seq++;
      const eventId = `${prefix}-${n}`;
      const { body } = mailgunExample({
        signingKey: BENCH_MAILGUN_KEY,
        eventId,
        event: EVENTS[n % EVENTS.length],
        messageId: `${prefix}-m${n % o.messages}@mg.example.com`,
      });
      stats.sent.add(`mailgun:${eventId}`);
      await deliver(eventId, body);
    }
  };
  const running = Promise.all(Array.from({ length: o.senders }, sender));
  return {
    stats,
    stop: async () => {
      stopping = true;
      stoppedAt = Date.now();
      await running;
    },
  };
}
