import { createHash } from 'node:crypto';

/** An error signature: what makes two parked events "the same problem". */
export interface IssueSignature {
  /** Stable id: the first 12 hex digits of the SHA-256 of the signature text. */
  id: string;
  source: string;
  /** Error type (`Error`, `PermanentProcessingError`), or `unknown` when no error was kept. */
  errorType: string;
  /** The message with quoted values, ids and numbers replaced by placeholders. */
  message: string;
  /** The whole signature, readable: `<source> <errorType>: <message>`. */
  signature: string;
}

// Order matters: quoted values first (they may hold anything), then ids, then plain numbers.
const RULES: [RegExp, string][] = [
  [/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '<value>'],
  [/<[^<>\s]+@[^<>\s]+>|[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, '<email>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>'],
  // Tokens mixing letters and digits (hex digests, provider ids like `a1b2c3d4`, `evt_9f8e7d`).
  [/\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{6,}\b/g, '<id>'],
  [/\d+(?:\.\d+)?/g, '<n>'],
];

/** The message of an error with the parts that differ per event (ids, numbers, quoted values) normalised. */
export function normaliseMessage(message: string): string {
  let out = message.trim();
  for (const [re, placeholder] of RULES) out = out.replace(re, placeholder);
  return out.replace(/\s+/g, ' ').slice(0, 500);
}

/**
 * The signature of a parked event's last error. `lastError` is the workflow's `<type>: <message>`
 * (see workflows/process-event.ts); null (no error kept, or no worker to ask) gives type `unknown`.
 */
export function issueSignature(source: string, lastError: string | null): IssueSignature {
  let errorType = 'unknown';
  let message = '';
  if (lastError !== null) {
    const m = /^([A-Za-z_$][\w$.]*): ([\s\S]*)$/.exec(lastError);
    errorType = m ? m[1]! : 'Error';
    message = normaliseMessage(m ? m[2]! : lastError);
  }
  const id = createHash('sha256').update(`${source}\n${errorType}\n${message}`).digest('hex').slice(0, 12);
  return { id, source, errorType, message, signature: `${source} ${errorType}: ${message}` };
}
