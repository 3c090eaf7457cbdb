import { capturedLogs } from './harness';

/**
 * Fails if any log line written by harness processes so far contains one of `values` (payload
 * field values such as a recipient, an email address, a customer name). Payloads carry personal
 * data and must never reach logs; ids and types may. Values shorter than 6 characters are refused
 * because they would match by accident.
 */
export function assertNoPayloadInLogs(values: readonly string[]): void {
  for (const v of values) {
    if (v.length < 6) throw new Error(`"${v}" is too short to check for reliably`);
  }
  const leaks: string[] = [];
  for (const line of capturedLogs) {
    // JSON-escaped too: a value with quotes or non-ASCII appears escaped in a JSON log line.
    const hit = values.find((v) => line.includes(v) || line.includes(JSON.stringify(v).slice(1, -1)));
    if (hit) leaks.push(`${hit} in ${line.slice(0, 300)}`);
  }
  if (leaks.length) throw new Error(`payload values in logs:\n${leaks.join('\n')}`);
}

/** The parsed JSON log lines captured so far (lines that are not JSON are skipped). */
export function capturedLogRecords(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const chunk of capturedLogs) {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not JSON: not ours to check here
      }
    }
  }
  return out;
}
