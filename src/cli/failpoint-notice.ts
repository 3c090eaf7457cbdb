import type { Config } from '../config';

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

/**
 * The start banner's lines when INTAKE_FAILPOINTS is set: that handlers fail on purpose, and how long
 * an affected event retries before it parks (about 8.5 minutes at the default budget), with the
 * settings that make a rehearsal take seconds. Empty when no failpoint is on.
 */
export function failpointNotice(config: Pick<Config, 'failpoints' | 'retry'>): string[] {
  if (!config.failpoints) return [];
  const lines = [
    `  Failpoints ON   INTAKE_FAILPOINTS=${config.failpoints} (handlers fail on purpose)`,
    `                  an affected event retries ~${human(timeToParkMs(config.retry))} before it parks (${config.retry.maxAttempts} attempts)`,
  ];
  if (timeToParkMs(config.retry) > 60_000)
    lines.push(
      '                  to rehearse in seconds: INTAKE_RETRY_MAX_ATTEMPTS=3 INTAKE_RETRY_MAX_INTERVAL_MS=2000',
    );
  return lines;
}
