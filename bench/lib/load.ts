import autocannon from 'autocannon';
import { signedBodies, type SignedBody } from './mailgun-bodies';

/** One measured run at one concurrency level. */
export interface RunResult {
  /** Successful (2xx) answers, or successful starts for the raw loop. */
  total: number;
  /** total / durationS. */
  rps: number;
  p50: number;
  p99: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Answers outside 2xx. */
  non2xx: number;
  durationS: number;
  statusCodes?: Record<string, number>;
}

/** Options of {@link httpLoad}. */
export interface HttpLoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** Send exactly this many requests over all connections, then stop (`durationS` is ignored). */
  amount?: number;
  /** Signed bodies to send, one per request (unique events); else a fixed small JSON body. */
  bodies?: SignedBody[];
  /** Called just before a body is written (e2e: the send time of each event). */
  onSend?: (b: SignedBody) => void;
  /** Called with each answer for a body. */
  onAnswer?: (b: SignedBody, status: number) => void;
  /** Per-request timeout, seconds. Default 30. */
  timeoutS?: number;
  /**
   * Open-model arrival rate over all connections, requests/s; unset = as fast as answered. With
   * `bodies`, requests are paced evenly (one every 1/rate s, see {@link pacedLoad}).
   */
  overallRate?: number;
}

const FIXED_BODY = JSON.stringify({ 'event-data': { id: 'x', event: 'delivered' }, n: 1 });

/**
 * A closed loop of `connections` keep-alive connections (pipelining 1) for `durationS`, with
 * autocannon. With `bodies`, every request carries the next unused pre-signed body; if they run
 * out, more are signed on the fly and counted in `bodiesSignedDuringRun`.
 */
export async function httpLoad(o: HttpLoadOptions): Promise<RunResult & { bodiesSignedDuringRun: number }> {
  if (o.overallRate && o.bodies && !o.amount) return pacedLoad(o, o.overallRate, o.bodies);
  let next = 0;
  let signedDuringRun = 0;
  const take = (): SignedBody => {
    const pool = o.bodies!;
    let b = pool[next++];
    if (!b) {
      signedDuringRun++;
      b = signedBodies(1)[0] as SignedBody;
    }
    return b;
  };
  const request: autocannon.Request = o.bodies
    ? {
        method: 'POST',
        path: '/webhooks/mailgun',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req, context) => {
          const b = take();
          (context as { current?: SignedBody }).current = b;
          o.onSend?.(b);
          return { ...req, body: b.body } as autocannon.Request;
        },
        onResponse: (status, _body, context) => {
          const b = (context as { current?: SignedBody }).current;
          if (b) o.onAnswer?.(b, status);
        },
      }
    : {
        method: 'POST',
        path: '/webhooks/mailgun',
        headers: { 'content-type': 'application/json' },
        body: FIXED_BODY,
      };
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    pipelining: 1,
    ...(o.amount ? { amount: o.amount } : { duration: o.durationS }),
    timeout: o.timeoutS ?? 30,
    ...(o.overallRate ? { overallRate: o.overallRate } : {}),
    requests: [request],
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(result.statusCodeStats ?? {})) {
    statusCodes[code] = (v as { count: number }).count;
  }
  const ok = result['2xx'];
  const durationS = result.duration;
  return {
    total: ok,
    rps: ok / durationS,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    durationS,
    statusCodes,
    bodiesSignedDuringRun: signedDuringRun,
  };
}

/** The value at quantile `q` (0..1) of ascending `sorted`. */
const quantile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;

/**
 * An open-model load at a steady rate: request i is sent at start + i/rate, whatever the answers
 * do (keep-alive connections from Node's fetch pool, as many as needed). autocannon's
 * `overallRate` is not that: each connection sends its share of a second back to back, then waits
 * for the next second, so "30/s" arrives as a burst of 30 at the top of every second and the
 * latency measured includes the queue that burst builds.
 */
async function pacedLoad(
  o: HttpLoadOptions,
  rate: number,
  bodies: SignedBody[],
): Promise<RunResult & { bodiesSignedDuringRun: number }> {
  const n = Math.floor(rate * o.durationS);
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let signedDuringRun = 0;
  const inFlight: Promise<void>[] = [];
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    let b = bodies[i];
    if (!b) {
      signedDuringRun++;
      b = signedBodies(1)[0] as SignedBody;
    }
    const body = b;
    o.onSend?.(body);
    const sent = Date.now();
    inFlight.push(
      fetch(`${o.url}/webhooks/mailgun`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body.body,
        signal: AbortSignal.timeout((o.timeoutS ?? 30) * 1000),
      })
        .then(async (res) => {
          await res.arrayBuffer();
          latencies.push(Date.now() - sent);
          statusCodes[res.status] = (statusCodes[res.status] ?? 0) + 1;
          o.onAnswer?.(body, res.status);
        })
        .catch(() => {
          errors++;
        }),
    );
  }
  await Promise.all(inFlight);
  const durationS = (Date.now() - t0) / 1000;
  const ok = Object.entries(statusCodes)
    .filter(([code]) => code.startsWith('2'))
    .reduce((sum, [, count]) => sum + count, 0);
  const sorted = latencies.sort((a, b) => a - b);
  return {
    total: ok,
    rps: ok / durationS,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    errors,
    non2xx: latencies.length - ok,
    durationS,
    statusCodes,
    bodiesSignedDuringRun: signedDuringRun,
  };
}
