import { randomBytes } from 'node:crypto';
import { mailgunExample } from '../../src/sources/mailgun';

/** The signing key every bench and chaos process shares. */
export const BENCH_MAILGUN_KEY = 'key-bench-0123456789abcdef';

const EVENTS = ['delivered', 'opened', 'clicked', 'failed', 'accepted'];

/** One pre-signed Mailgun webhook and its workflow id. */
export interface SignedBody {
  /** `mailgun:<eventId>`. */
  id: string;
  eventId: string;
  body: string;
  /** Another source's route and headers (default: /webhooks/mailgun, JSON). */
  path?: string;
  headers?: Record<string, string>;
}

/**
 * Pre-generates `n` correctly signed Mailgun bodies, each with a unique event id and a unique token
 * (Intake binds a token to the first event id that presents it), so signing is not measured.
 */
export function signedBodies(n: number, prefix = randomBytes(4).toString('hex')): SignedBody[] {
  const out: SignedBody[] = new Array(n);
  const timestamp = Math.floor(Date.now() / 1000);
  for (let i = 0; i < n; i++) {
    const eventId = `${prefix}-${i}`;
    const req = mailgunExample({
      signingKey: BENCH_MAILGUN_KEY,
      eventId,
      event: EVENTS[i % EVENTS.length],
      timestamp,
      messageId: `${prefix}-m${i % 1000}@mg.example.com`,
    });
    out[i] = { id: `mailgun:${eventId}`, eventId, body: req.body };
  }
  return out;
}
