import type { SpooledStart } from '../../src/store/start-spool';

/** A minimal spooled Mailgun start for workflow id `mailgun:<eventId>`, for the spool's own tests. */
export const spooledStartOf = (workflowId: string): SpooledStart => ({
  workflowId,
  input: {
    id: workflowId,
    source: 'mailgun',
    eventId: workflowId.slice(8),
    eventType: 'delivered',
    entity: 'm@x',
    payload: {},
    params: {},
    receivedAt: new Date().toISOString(),
    activity: 'handleMailgun',
    retry: { maxAttempts: 3, initialIntervalMs: 1000, maxIntervalMs: 2000 },
    activityTimeoutMs: 1000,
  },
  searchAttributes: { source: 'mailgun', eventType: 'delivered', entity: 'm@x' },
});
