import pino from 'pino';

/** The structured logger type used everywhere. */
export type Logger = pino.Logger;

/**
 * JSON logs with pino. Only ids, types, statuses and timings are ever logged: payloads carry
 * personal data. The redaction list is a backstop for fields that must never appear. Every HTTP
 * request gets one `access` line (src/api/access-log.ts) carrying its `reqId` (X-Request-Id);
 * Temporal SDK and Core logs come through the same logger (src/temporal/runtime.ts).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'intake' },
      redact: {
        paths: [
          'payload',
          '*.payload',
          'body',
          '*.body',
          'rawBody',
          '*.rawBody',
          'recipient',
          '*.recipient',
          'email',
          '*.email',
          'headers.authorization',
          'req.headers.authorization',
          'headers.cookie',
          'secret',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
