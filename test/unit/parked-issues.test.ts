import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { issueSignature } from '../../src/operations/issue-signature';
import { groupIssues, ParkedEvents } from '../../src/operations/parked-events';
import {
  IntakeEventType,
  IntakeIssue,
  IntakeParkedAt,
  IntakeSource,
} from '../../workflows/search-attributes';
import type { EventState } from '../../workflows/types';

const ERROR = 'Error: upstream said 503 for "abc-1"';
const issue = issueSignature('mailgun', ERROR).id;

interface Fake {
  id: string;
  type: string;
  parkedAt: string;
  /** Parked under the patches: IntakeIssue and IntakeParkedAt in its row. */
  tagged: boolean;
}

/**
 * A Client with just what ParkedEvents uses: a visibility list of the events, a status query and a
 * reverse history read per event, each counted.
 */
function fakeClient(events: Fake[], opts: { answers?: boolean } = {}) {
  const calls = { list: 0, query: 0, history: 0 };
  const row = (e: Fake) =>
    ({
      workflowId: e.id,
      typedSearchAttributes: new TypedSearchAttributes([
        { key: IntakeSource, value: 'mailgun' },
        { key: IntakeEventType, value: e.type },
        ...(e.tagged
          ? [
              { key: IntakeIssue, value: issue },
              { key: IntakeParkedAt, value: new Date(e.parkedAt) },
            ]
          : []),
      ]),
    }) as unknown as WorkflowExecutionInfo;
  const byId = new Map(events.map((e) => [e.id, e]));
  const client = {
    options: { namespace: 'default' },
    connection: { withDeadline: (_d: number, fn: () => Promise<unknown>) => fn() },
    workflow: {
      list: async function* () {
        calls.list++;
        for (const e of events) yield row(e);
      },
      getHandle: (id: string) => ({
        query: async (): Promise<Partial<EventState>> => {
          calls.query++;
          await Promise.resolve();
          if (opts.answers === false) throw new Error('deadline exceeded: no worker polls the task queue');
          return { status: 'parked', attempts: 3, lastError: ERROR.replace('abc-1', id) };
        },
      }),
    },
    workflowService: {
      getWorkflowExecutionHistoryReverse: async ({ execution }: { execution: { workflowId: string } }) => {
        calls.history++;
        const t = Date.parse(byId.get(execution.workflowId)!.parkedAt);
        await Promise.resolve();
        return {
          history: { events: [{ eventTime: { seconds: Math.floor(t / 1000), nanos: (t % 1000) * 1e6 } }] },
        };
      },
    },
  } as unknown as Client;
  return { client, calls };
}

// Issue 21: events parked under the intake-issue-attribute and intake-parked-at patches are grouped
// from their rows; the others (parked before) are still asked one by one, and the groups match.
describe('ParkedEvents.issues over a mixed population', () => {
  const events: Fake[] = Array.from({ length: 8 }, (_, i) => ({
    id: `mailgun:e${i}`,
    type: i % 2 ? 'opened' : 'clicked',
    parkedAt: new Date(Date.UTC(2026, 11, 2, 12, 0, i)).toISOString(),
    tagged: i >= 3,
  }));

  it('asks the untagged events each, and one tagged event for the title', async () => {
    const { client, calls } = fakeClient(events);
    const issues = await new ParkedEvents(client).issues();
    expect(calls).toEqual({ list: 1, query: 3 + 1, history: 3 });
    const all = fakeClient(events.map((e) => ({ ...e, tagged: false })));
    const old = groupIssues(await new ParkedEvents(all.client).list());
    expect(all.calls).toEqual({ list: 1, query: 8, history: 8 });
    expect(issues).toEqual(old);
    expect(issues).toMatchObject([
      {
        id: issue,
        count: 8,
        eventTypes: ['clicked', 'opened'],
        firstParkedAt: events[0]!.parkedAt,
        lastParkedAt: events[7]!.parkedAt,
        sampleIds: events.slice(0, 5).map((e) => e.id),
      },
    ]);
  });

  it('asks no further sample of an issue once one does not answer (no worker polls its queue)', async () => {
    const tagged = events.filter((e) => e.tagged);
    const { client, calls } = fakeClient(tagged, { answers: false });
    const issues = await new ParkedEvents(client, 1).issues();
    // One sample, its two tries; it used to ask all five samples twice each.
    expect(calls.query).toBe(2);
    expect(issues).toMatchObject([{ id: issue, count: tagged.length }]);
    expect(issues[0]!.signature).toMatch(/unknown/);
  });

  it('keeps only the asked issue, without asking the tagged events of others', async () => {
    const { client } = fakeClient(events);
    expect(await new ParkedEvents(client).issues({ issue: '000000000000' })).toEqual([]);
    expect((await new ParkedEvents(client).issues({ issue })).map((i) => i.count)).toEqual([8]);
  });
});
