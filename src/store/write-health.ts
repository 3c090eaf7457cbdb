import { isDatabaseError } from '../errors';

/** How long a refused write keeps /readyz unready without a successful write since. */
const REMEMBER_MS = 60_000;

/**
 * Whether the store takes writes, as the ingest path last saw it. `SELECT 1` (the readiness ping)
 * still answers on a full volume or a read-only server, so a store that refuses writes looked ready
 * while every webhook got 503. Ingest reports each store call here: a refusal for lack of space or
 * resources (SQLSTATE class 53: disk full, out of memory, too many connections; 54000 program limit)
 * or because the server is read-only (25006) is remembered until a later store call succeeds, for
 * at most a minute, and /readyz reports it. A quarantine at its cap is not such a refusal.
 */
export class WriteHealth {
  private failure?: { code: string; at: number };

  /** A store call on the ingest path failed with `err`. */
  noteFailure(err: unknown): void {
    if (!isDatabaseError(err)) return;
    const { code } = err;
    if (code.startsWith('53') || code === '54000' || code === '25006')
      this.failure = { code, at: Date.now() };
  }

  /** A store call on the ingest path succeeded: the store takes writes again. */
  noteSuccess(): void {
    this.failure = undefined;
  }

  /** The SQLSTATE of a recent refused write, or undefined when writes are not known to fail. */
  refusing(now = Date.now()): string | undefined {
    if (this.failure && now - this.failure.at > REMEMBER_MS) this.failure = undefined;
    return this.failure?.code;
  }
}
