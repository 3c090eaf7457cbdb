import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';

/**
 * The readable error signature of a parked event: what makes two parked events "the same problem".
 * Deterministic and free of Node built-ins, so processEvent shows it in its current details (the Web
 * UI's workflow page) and its IntakeIssue search attribute, and src/operations/issue-signature.ts groups
 * issues by the same text and id. Hashing is pure JavaScript (no node:crypto in the workflow sandbox).
 */

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

/** A last error (`<type>: <message>`, see process-event.ts) split into its type and normalised message. */
export function errorSignature(
  source: string,
  lastError: string | null,
): { errorType: string; message: string; signature: string } {
  let errorType = 'unknown';
  let message = '';
  if (lastError !== null) {
    const m = /^([A-Za-z_$][\w$.]*): ([\s\S]*)$/.exec(lastError);
    errorType = m ? m[1]! : 'Error';
    message = normaliseMessage(m ? m[2]! : lastError);
  }
  return { errorType, message, signature: `${source} ${errorType}: ${message}` };
}

/**
 * The issue id of a signature: the first 12 hex digits of the SHA-256 of `source`, type and
 * normalised message (newline-separated). Stable across processes and releases: operators keep
 * issue ids, and parked workflows carry it in IntakeIssue.
 */
export function issueId(source: string, errorType: string, message: string): string {
  return bytesToHex(sha256(`${source}\n${errorType}\n${message}`)).slice(0, 12);
}

/** The issue id of a last error (`<type>: <message>`), as {@link issueId}. */
export function issueIdOf(source: string, lastError: string | null): string {
  const { errorType, message } = errorSignature(source, lastError);
  return issueId(source, errorType, message);
}
