import type { Config } from '../config';
import type { Failpoint } from '../worker/failpoints';

/** How long the handler retries before an event parks: the sum of the backoff intervals (×2, capped). */
export function timeToParkMs(retry: Config['retry']): number {
  let total = 0;
  for (let i = 0; i < retry.maxAttempts - 1; i++)
    total += Math.min(retry.initialIntervalMs * 2 ** i, retry.maxIntervalMs);
  return total;
}

function human(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** What one failpoint does to an affected event, in the banner's words. */
function effect(f: Failpoint, retry: Config['retry']): string {
  switch (f.point) {
    case 'permanent':
      return 'fails permanently: an affected event parks at once (1 attempt, no retries)';
    case 'once':
      return 'fails the first attempt (per worker process), the retry succeeds: nothing parks';
    case 'silent':
      return 'a bug that does not throw: an affected event ends processed with its effect skipped (replay it after)';
    case 'handler':
      return `an affected event retries ~${human(timeToParkMs(retry))} before it parks (${retry.maxAttempts} attempts)`;
  }
}

/**
 * The start banner's lines when INTAKE_FAILPOINTS is set: that handlers fail on purpose and, per
 * failpoint, what happens to an affected event (a `handler` one retries about 8.5 minutes at the
 * default budget before it parks, a `permanent` one parks at once, a `once` one recovers), with the
 * settings that make a `handler` rehearsal take seconds. Empty when no failpoint is on.
 */
export function failpointNotice(config: Pick<Config, 'failpoints' | 'retry'>): string[] {
  if (config.failpoints.length === 0) return [];
  const spec = config.failpoints.map((f) => f.entry).join(',');
  const lines = [`  Failpoints ON   INTAKE_FAILPOINTS=${spec} (handlers fail on purpose)`];
  for (const f of config.failpoints)
    lines.push(
      `                  ${config.failpoints.length > 1 ? `${f.entry}: ` : ''}${effect(f, config.retry)}`,
    );
  if (config.failpoints.some((f) => f.point === 'handler') && timeToParkMs(config.retry) > 60_000)
    lines.push(
      '                  to rehearse in seconds: INTAKE_RETRY_MAX_ATTEMPTS=3 INTAKE_RETRY_MAX_INTERVAL_MS=2000',
    );
  return lines;
}
