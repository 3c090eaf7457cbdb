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
  /** Open-model arrival rate over all connections, requests/s; unset = as fast as answered. */
  overallRate?: number;
}

const FIXED_BODY = JSON.stringify({ 'event-data': { id: 'x', event: 'delivered' }, n: 1 });

/**
 * A closed loop of `connections` keep-alive connections (pipelining 1) for `durationS`, with
 * autocannon. With `bodies`, every request carries the next unused pre-signed body; if they run
 * out, more are signed on the fly and counted in `bodiesSignedDuringRun`.
 */
export async function httpLoad(o: HttpLoadOptions): Promise<RunResult & { bodiesSignedDuringRun: number }> {
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
