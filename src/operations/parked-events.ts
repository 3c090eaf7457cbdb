import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { BadRequestError } from '../errors';
import { processEvent, statusQuery } from '../../workflows/process-event';
import type { RedriveTarget } from '../../workflows/redrive-types';
import {
  IntakeEventType,
  IntakeIssue,
  IntakeParkedAt,
  IntakeSource,
} from '../../workflows/search-attributes';
import type { EventState } from '../../workflows/types';
import { eventsQuery } from './event-service';
import { issueSignature, type IssueSignature } from './issue-signature';
import { mapLimit } from '../platform/map-limit';

/** One parked event, with the error that parked it. */
export interface ParkedEvent {
  id: string;
  source: string;
  eventType: string | null;
  /** Handler attempts so far (a resumed event that fails again has more). */
  attempts: number;
  lastError: string | null;
  /**
   * When it parked: the time of the workflow's last history event (the parking). In
   * {@link ParkedEvents.issues}, IntakeParkedAt when the event has it (the workflow's time at the
   * parking, a few milliseconds before the parking's last history event).
   */
  parkedAt: string | null;
  issue: IssueSignature;
}

/** Parked events sharing one error signature (GET /admin/issues, `intake events issues`). */
export interface Issue extends IssueSignature {
  count: number;
  eventTypes: string[];
  firstParkedAt: string | null;
  lastParkedAt: string | null;
  /** A few of its event ids. */
  sampleIds: string[];
}

/** One parked event as a visibility list shows it: no round trip of its own. */
interface ParkedRow {
  id: string;
  source: string;
  eventType: string | null;
  /** IntakeIssue; absent on events that parked before the `intake-issue-attribute` patch. */
  issue: string | undefined;
  /** IntakeParkedAt (ISO); absent on events that parked before the `intake-parked-at` patch. */
  parkedAt: string | undefined;
}

/** What {@link groupIssues} reads of a parked event. */
export type GroupedEvent = Pick<ParkedEvent, 'id' | 'eventType' | 'parkedAt' | 'issue'>;

/** Which parked events: all, of one source, of one issue. */
export interface ParkedFilter {
  source?: string;
  issue?: string;
}

const SAMPLES = 5;
const CONCURRENCY = 16;

/** Validates an issue id (12 hex digits, as {@link issueSignature} makes them). */
export function parseIssueId(issue: string | undefined): string | undefined {
  if (issue === undefined) return undefined;
  if (!/^[0-9a-f]{12}$/.test(issue)) throw new BadRequestError('issue must be an issue id (12 hex digits)');
  return issue;
}

/**
 * Parked events, found by the visibility query `IntakeStatus="parked"`. {@link list} asks each for
 * its state (status query: attempts and last error) and its parking time (the last history event);
 * {@link issues} and {@link targets} read what they can from the search attributes instead.
 */
export class ParkedEvents {
  constructor(
    private readonly client: Client,
    private readonly queryTimeoutMs = 5000,
  ) {}

  /** The parked events matching the filter. An event resumed meanwhile is left out. */
  async list(filter: ParkedFilter = {}): Promise<ParkedEvent[]> {
    const issue = parseIssueId(filter.issue);
    const found = await this.rows(eventsQuery({ status: 'parked', source: filter.source, running: true }));
    const events = await mapLimit(found, CONCURRENCY, (e) => this.inspect(e));
    return events.filter(
      (e): e is ParkedEvent => e !== undefined && (issue === undefined || e.issue.id === issue),
    );
  }

  /**
   * What a redrive resumes, with as few round trips as the filter allows. An issue's events that
   * parked under the `intake-issue-attribute` patch are one visibility query
   * (`IntakeIssue = "<id>" AND IntakeStatus = "parked"`), with no round trip per event. The
   * fallback: events that parked before that patch carry no IntakeIssue, so a second query lists
   * them (`IntakeIssue IS NULL`) and each is asked its last error (status query), as before. A
   * canary needs each event's attempts at selection (to tell when its retry round has run): then
   * every event is asked (one status query each, still no history read).
   */
  async targets(filter: ParkedFilter, opts: { attempts: boolean }): Promise<RedriveTarget[]> {
    const issue = parseIssueId(filter.issue);
    const base = eventsQuery({ status: 'parked', source: filter.source, running: true });
    const tagged = issue === undefined ? [] : await this.rows(`${base} AND ${IntakeIssue.name} = '${issue}'`);
    const rest = await this.rows(issue === undefined ? base : `${base} AND ${IntakeIssue.name} IS NULL`);
    const asked = new Set(opts.attempts ? [...tagged, ...rest] : rest.filter((r) => r.issue === undefined));
    const out: RedriveTarget[] = [];
    await mapLimit([...tagged, ...rest], CONCURRENCY, async (row) => {
      if (!asked.has(row)) {
        if (row.issue !== undefined) out.push({ id: row.id, issue: row.issue });
        return;
      }
      const state = await this.state(row.id);
      if (state && state.status !== 'parked') return; // resumed meanwhile
      const id = row.issue ?? issueSignature(row.source, state?.lastError ?? null).id;
      if (issue === undefined || id === issue)
        out.push({ id: row.id, issue: id, attempts: state?.attempts ?? 0 });
    });
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** One visibility query's events: ids and their search attributes, read through the typed keys. */
  private async rows(query: string): Promise<ParkedRow[]> {
    const out: ParkedRow[] = [];
    for await (const wf of this.client.workflow.list({ query, pageSize: 1000 })) out.push(parkedRow(wf));
    return out;
  }

  /**
   * The parked events grouped by error signature, the largest group first, with one visibility
   * query and one status query per issue. An event that parked under the `intake-issue-attribute`
   * and `intake-parked-at` patches carries its issue id and parking time in its row; the issue's
   * title (error type, message) comes from one of its events, asked its last error. The fallback:
   * an event without them (parked before those patches) is asked its state and its parking time
   * (a status query and a history read), as before. The groups are the same either way: the
   * workflow computes the issue id as {@link issueSignature} does (test/unit/issue-signature).
   */
  async issues(filter: ParkedFilter = {}): Promise<Issue[]> {
    const issue = parseIssueId(filter.issue);
    const rows = await this.rows(eventsQuery({ status: 'parked', source: filter.source, running: true }));
    const tagged = rows.filter((r) => r.issue !== undefined && r.parkedAt !== undefined);
    const titles = await this.titles(tagged.filter((r) => issue === undefined || r.issue === issue));
    const events = await mapLimit(rows, CONCURRENCY, async (r): Promise<GroupedEvent | undefined> => {
      if (r.issue !== undefined && r.parkedAt !== undefined) {
        const title = titles.get(r.issue);
        return title && { id: r.id, eventType: r.eventType, parkedAt: r.parkedAt, issue: title };
      }
      return this.inspect(r);
    });
    return groupIssues(
      events.filter(
        (e): e is GroupedEvent => e !== undefined && (issue === undefined || e.issue.id === issue),
      ),
    );
  }

  /**
   * The signature of each issue among the rows, from the last error of one of its events (a status
   * query). Rows in visibility order, so the sample asked is the first one listed; when it resumed
   * meanwhile, the next one is asked. When it does not answer, no other is: the events of an issue
   * share the task queue, so with no worker polling it each would wait out both deadlines (15 s),
   * and a dry run during a worker outage took 5 × 15 s per issue. Such an issue keeps its id with an
   * `unknown` error, as an unanswered event does in {@link list}.
   */
  private async titles(rows: ParkedRow[]): Promise<Map<string, IssueSignature>> {
    const byIssue = new Map<string, ParkedRow[]>();
    for (const r of rows) byIssue.set(r.issue!, [...(byIssue.get(r.issue!) ?? []), r]);
    const out = new Map<string, IssueSignature>();
    await mapLimit([...byIssue], CONCURRENCY, async ([id, members]) => {
      for (const m of members.slice(0, SAMPLES)) {
        const state = await this.state(m.id);
        if (state === undefined) break;
        if (state.status !== 'parked') continue;
        out.set(id, { ...issueSignature(m.source, state.lastError), id });
        return;
      }
      out.set(id, { ...issueSignature(members[0]!.source, null), id });
    });
    return out;
  }

  private async inspect(e: ParkedRow): Promise<ParkedEvent | undefined> {
    const state = await this.state(e.id);
    if (state && state.status !== 'parked') return undefined;
    const lastError = state?.lastError ?? null;
    return {
      id: e.id,
      source: e.source,
      eventType: e.eventType,
      attempts: state?.attempts ?? 0,
      lastError,
      parkedAt: await this.lastEventTime(e.id),
      issue: issueSignature(e.source, lastError),
    };
  }

  /** The event's state (status query); undefined when no worker answered (or it closed meanwhile). */
  private async state(id: string): Promise<EventState | undefined> {
    const handle = this.client.workflow.getHandle<typeof processEvent>(id);
    // A busy worker may miss one deadline; a second, longer try keeps a bogus `unknown` issue rare.
    for (const timeoutMs of [this.queryTimeoutMs, this.queryTimeoutMs * 2]) {
      try {
        return await this.client.connection.withDeadline(Date.now() + timeoutMs, () =>
          handle.query(statusQuery),
        );
      } catch {
        // No worker answered (or the workflow closed meanwhile): keep it, with an unknown error.
      }
    }
    return undefined;
  }

  private async lastEventTime(workflowId: string): Promise<string | null> {
    try {
      const res = await this.client.workflowService.getWorkflowExecutionHistoryReverse({
        namespace: this.client.options.namespace,
        execution: { workflowId },
        maximumPageSize: 1,
      });
      const t = res.history?.events?.[0]?.eventTime;
      if (!t) return null;
      return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
    } catch {
      return null;
    }
  }
}

function parkedRow(wf: WorkflowExecutionInfo): ParkedRow {
  const sa = wf.typedSearchAttributes;
  return {
    id: wf.workflowId,
    source: sa.get(IntakeSource) ?? '',
    eventType: sa.get(IntakeEventType) ?? null,
    issue: sa.get(IntakeIssue),
    parkedAt: sa.get(IntakeParkedAt)?.toISOString(),
  };
}

/** Groups parked events by issue id: count, event types, first/last parking time, sample ids. */
export function groupIssues(events: GroupedEvent[]): Issue[] {
  const byId = new Map<string, Issue>();
  for (const e of events) {
    let issue = byId.get(e.issue.id);
    if (!issue) {
      issue = {
        ...e.issue,
        count: 0,
        eventTypes: [],
        firstParkedAt: null,
        lastParkedAt: null,
        sampleIds: [],
      };
      byId.set(e.issue.id, issue);
    }
    issue.count++;
    if (e.eventType && !issue.eventTypes.includes(e.eventType)) issue.eventTypes.push(e.eventType);
    if (e.parkedAt) {
      if (!issue.firstParkedAt || e.parkedAt < issue.firstParkedAt) issue.firstParkedAt = e.parkedAt;
      if (!issue.lastParkedAt || e.parkedAt > issue.lastParkedAt) issue.lastParkedAt = e.parkedAt;
    }
    if (issue.sampleIds.length < SAMPLES) issue.sampleIds.push(e.id);
  }
  for (const i of byId.values()) i.eventTypes.sort();
  return [...byId.values()].sort((a, b) => b.count - a.count || a.id.localeCompare(b.id));
}
