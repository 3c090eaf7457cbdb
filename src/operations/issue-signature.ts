import { errorSignature, issueId, normaliseMessage } from '../../workflows/error-signature';

export { normaliseMessage };

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

/**
 * The signature of a parked event's last error. `lastError` is the workflow's `<type>: <message>`
 * (see workflows/process-event.ts); null (no error kept, or no worker to ask) gives type `unknown`.
 */
export function issueSignature(source: string, lastError: string | null): IssueSignature {
  const { errorType, message, signature } = errorSignature(source, lastError);
  return { id: issueId(source, errorType, message), source, errorType, message, signature };
}
