import pino from 'pino';

/** The structured logger type used everywhere. */
export type Logger = pino.Logger;

/**
 * JSON logs with pino. Only ids, types, statuses and timings are ever logged: payloads carry
 * personal data. The redaction list is a backstop for fields that must never appear.
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
          'headers.authorization',
          'req.headers.authorization',
          'secret',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
