import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { activityTaskQueueFor, type Config } from '../config';
import { UnavailableError, ValidationError } from '../errors';
import { payloadOffloadFor, type PreparedPayload } from '../payload-offload';
import type { Source, SourceContext, SourceRequest } from '../sources/types';
import type { StartLimiter } from './start-limiter';
import { IntakeEntity, IntakeEventType, IntakeSource, IntakeStatus } from '../../workflows/search-attributes';
import { processEvent } from '../../workflows/process-event';
import type { ProcessEventInput } from '../../workflows/types';
import { parseJsonStrict } from './json';

/** The answer to one accepted or redelivered webhook. */
export interface IngestResult {
  /** The source's success status for a new event; `200` for a duplicate. */
  status: 200 | 202;
  body: { id: string; status: 'accepted' | 'duplicate' };
  eventType: string;
}

/** What the ingest pipeline needs. */
export interface IngestDeps extends SourceContext {
  client: Client;
  config: Config;
  /** Bounds concurrent starts; unbounded when absent. */
  startLimiter?: StartLimiter;
}

const EVENT_ID = /^[\x21-\x7e]{1,200}$/; // printable ASCII, no spaces: safe in ids, queries and logs

/**
 * One webhook, after routing and the body-size limit: signature → JSON → schema → event id →
 * binding → workflow start. Resolves only once Temporal has persisted the start; throws an
 * IntakeHttpError otherwise (mapped to HTTP in src/api/error-handler.ts).
 */
export async function ingest(
  source: Source<never>,
  req: SourceRequest,
  deps: IngestDeps,
): Promise<IngestResult> {
  source.verifyRaw?.(req, deps);
  const json = parseJsonStrict(req.rawBody);
  source.verifyParsed?.(json, req, deps);
  const parsed = source.schema.safeParse(json);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((i) => ({
        path: i.path.map(String).join('.') || '(root)',
        message: i.message,
      })),
    );
  }
  const identity = source.identify(parsed.data, req);
  if (!EVENT_ID.test(identity.eventId)) {
    throw new ValidationError([{ path: 'id', message: 'event id must be 1-200 printable ASCII characters' }]);
  }
  await source.bind?.(parsed.data, identity, deps);

  const id = `${source.name}:${identity.eventId}`;
  const { config, client } = deps;
  // Large bodies go to the store before the start, so the history only holds a reference.
  let body: PreparedPayload;
  try {
    body = await payloadOffloadFor(config).prepare(deps.store, id, parsed.data, req.rawBody.length);
  } catch (err) {
    throw new UnavailableError(`the store did not keep the payload: ${(err as Error).name}`);
  }
  const activityTaskQueue = activityTaskQueueFor(config, source.name);
  const input: ProcessEventInput = {
    id,
    source: source.name,
    eventId: identity.eventId,
    eventType: identity.eventType,
    entity: identity.entity,
    ...body,
    params: req.params,
    receivedAt: new Date().toISOString(),
    activity: source.activity,
    retry: config.retry,
    activityTimeoutMs: config.activityTimeoutMs,
    ...(activityTaskQueue ? { activityTaskQueue } : {}),
  };
  const deadline = Date.now() + config.temporal.startTimeoutMs;
  const start = () =>
    client.connection.withDeadline(deadline, () =>
      client.workflow.start(processEvent, {
        taskQueue: config.temporal.taskQueue,
        workflowId: id,
        args: [input],
        // Dedup: refuse a second start while one runs, and after it closed (within retention).
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: [
          { key: IntakeSource, value: source.name },
          { key: IntakeEventType, value: identity.eventType.slice(0, 200) },
          { key: IntakeEntity, value: identity.entity.slice(0, 1000) },
          { key: IntakeStatus, value: 'queued' },
        ],
      }),
    );
  try {
    const overloaded = () => new UnavailableError('too many starts in flight', 2);
    await (deps.startLimiter ? deps.startLimiter.run(deadline, overloaded, start) : start());
  } catch (err) {
    if (err instanceof UnavailableError) throw err;
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return { status: 200, body: { id, status: 'duplicate' }, eventType: identity.eventType };
    }
    throw new UnavailableError(`Temporal did not persist the start: ${(err as Error).name}`);
  }
  return { status: source.successStatus, body: { id, status: 'accepted' }, eventType: identity.eventType };
}
