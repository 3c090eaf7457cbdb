import { ConfigError } from '../errors';

/**
 * INTAKE_FAILPOINTS: rehearse a processing bug without changing code. Off by default.
 *
 * Syntax: comma-separated `<source>.<point>=<types>[@<percent>]`
 *  - point `handler`: the handler throws a retryable error (the event parks once the budget is spent);
 *  - point `permanent`: the handler throws PermanentProcessingError (parks at once);
 *  - point `once`: the first attempt of each event in this worker process fails (retryable), the
 *    next succeeds: a transient glitch, e.g. to watch the fallback from the quick local attempt;
 *  - `:silent` after the types of a `handler` point (`<source>.handler=opened:silent`): a bug that
 *    does not throw. The event ends `processed` (the ledger records it) but its effect is skipped,
 *    to rehearse finding such events and replaying them (`intake events replay`);
 *  - types: `|`-separated event types, or `*` for all;
 *  - percent: fail only that share of attempts (e.g. `<source>.handler=*@10` for chaos runs).
 * Example: `<source>.handler=opened` makes every `opened` event of that source fail (the README
 * names the built-in sources' types).
 */
export interface Failpoint {
  /** The entry as written in INTAKE_FAILPOINTS (for the start banner). */
  entry: string;
  source: string;
  point: 'handler' | 'permanent' | 'once' | 'silent';
  types: Set<string> | '*';
  /** Probability in [0, 1] that one attempt fails. */
  probability: number;
}

/** Parses INTAKE_FAILPOINTS; throws ConfigError naming the variable. */
export function parseFailpoints(raw: string | undefined): Failpoint[] {
  if (!raw) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^([a-z0-9_-]+)\.(handler|permanent|once)=([^@:]+)(:silent)?(?:@(\d{1,3}(?:\.\d+)?))?$/i.exec(
        entry,
      );
      if (!m)
        throw new ConfigError('INTAKE_FAILPOINTS', `cannot parse "${entry}" (e.g. <source>.handler=opened)`);
      const [, source, point, types, silent, pct] = m as unknown as [
        string,
        string,
        string,
        string,
        string | undefined,
        string | undefined,
      ];
      if (silent && point !== 'handler')
        throw new ConfigError('INTAKE_FAILPOINTS', `only a handler failpoint can be silent in "${entry}"`);
      const probability = pct === undefined ? 1 : Number(pct) / 100;
      if (probability < 0 || probability > 1)
        throw new ConfigError('INTAKE_FAILPOINTS', `percent out of range in "${entry}"`);
      return {
        entry,
        source,
        point: silent ? 'silent' : (point as Failpoint['point']),
        types: types.trim() === '*' ? '*' : new Set(types.split('|').map((t) => t.trim())),
        probability,
      };
    });
}

/** The failpoint that fires for this source and event type, if any (random draw per call). */
export function firingFailpoint(
  failpoints: Failpoint[],
  source: string,
  eventType: string,
  random: () => number = Math.random,
): Failpoint | undefined {
  return failpoints.find(
    (f) =>
      f.source === source &&
      (f.types === '*' || f.types.has(eventType)) &&
      (f.probability >= 1 || random() < f.probability),
  );
}
