import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { BadRequestError } from '../src/errors';
import { issueSignature } from '../src/operations/issue-signature';
import { ParkedEvents, type ParkedFilter } from '../src/operations/parked-events';
import { statusQuery, type processEvent } from '../workflows/process-event';
import type { EventState } from '../workflows/types';
import type { RedriveEventState, RedriveTarget } from '../workflows/redrive-types';

/** Activities of the redriveParked workflow: reading events' states through the client. */
export function createRedriveActivities(client: Client) {
  const stateOf = async (id: string): Promise<RedriveEventState> => {
    const handle = client.workflow.getHandle<typeof processEvent>(id);
    let state: EventState;
    try {
      state = await handle.query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        return { id, status: 'gone', attempts: 0, lastError: null, issue: '', signature: '' };
      throw err; // no worker answered: the activity retries
    }
    const sig = issueSignature(state.source, state.lastError);
    return {
      id,
      status: state.status,
      attempts: state.attempts,
      lastError: state.lastError,
      issue: sig.id,
      signature: sig.signature,
    };
  };
  return {
    /** The parked events matching the filter (a redrive started by hand, without targets). */
    async redriveSelect(filter: ParkedFilter): Promise<RedriveTarget[]> {
      try {
        // The filter does not say whether a canary follows: ask the attempts (the canary reads them).
        return await new ParkedEvents(client).targets(filter, { attempts: true });
      } catch (err) {
        // A malformed filter typed into the Web UI: retrying cannot fix it.
        if (err instanceof BadRequestError) throw ApplicationFailure.nonRetryable(err.message, 'BadRequest');
        throw err;
      }
    },
    /** The current state of each event (status query), with the signature of its last error. */
    async redriveEventStates(ids: string[]): Promise<RedriveEventState[]> {
      const out: RedriveEventState[] = [];
      for (let i = 0; i < ids.length; i += 16)
        out.push(...(await Promise.all(ids.slice(i, i + 16).map(stateOf))));
      return out;
    },
  };
}
