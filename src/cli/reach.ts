import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { createClient, temporalConnectConfig } from '../temporal/connection';

/** gRPC status codes that mean "no answer from the server" (UNAVAILABLE, DEADLINE_EXCEEDED). */
const UNREACHABLE_GRPC = new Set([14, 4]);

/** The network reason an error carries (fetch and the Temporal client hide it in `cause`). */
function reason(err: unknown): string {
  const e = err as { message?: string; code?: unknown; cause?: { code?: unknown; message?: string } };
  if (typeof e.cause?.code === 'string') return e.cause.code;
  const text = e.cause?.message ?? e.message ?? String(err);
  // e.g. "14 UNAVAILABLE: No connection established. Last error: … connect ECONNREFUSED …"
  return /\b(E[A-Z]{4,})\b/.exec(text)?.[1] ?? text;
}

/**
 * fetch against the Intake API; when nothing answers, the error names the URL it tried and how to
 * point the CLI elsewhere (`fetch failed` alone says neither).
 */
export async function fetchApi(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new Error(
      `cannot reach the Intake API at ${new URL(url).origin} (${reason(err)}): is it running? ` +
        `Set INTAKE_API_URL (or --url), or run eval "$(npx intake env)" for the one \`npm start\` runs`,
      { cause: err },
    );
  }
}

function isUnreachable(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.code === 'number' && UNREACHABLE_GRPC.has(e.code)) return true;
  }
  return false;
}

/**
 * Runs `fn` with a Temporal client for Intake's settings and closes it; when Temporal does not
 * answer, the error names the address and namespace it tried.
 */
export async function withTemporal<T>(config: Config, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = createClient(config);
  try {
    return await fn(client);
  } catch (err) {
    if (!isUnreachable(err)) throw err;
    const { namespace, connectionOptions } = temporalConnectConfig(config);
    throw new Error(
      `cannot reach Temporal at ${connectionOptions.address} (namespace ${namespace}): ${reason(err)}. ` +
        `Is it running? Set TEMPORAL_ADDRESS, or run eval "$(npx intake env)" for the one \`npm start\` runs`,
      { cause: err },
    );
  } finally {
    await client.connection.close();
  }
}
