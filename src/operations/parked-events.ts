import type { Client } from '@temporalio/client';
import { BadRequestError } from '../errors';
import { statusQuery } from '../../workflows/process-event';
import type { EventState } from '../../workflows/types';
import { eventsQuery } from './event-service';
import { issueSignature, type IssueSignature } from './issue-signature';

/** One parked event, with the error that parked it. */
export interface ParkedEvent {
  id: string;
  source: string;
  eventType: string | null;
  /** Handler attempts so far (a resumed event that fails again has more). */
  attempts: number;
  lastError: string | null;
  /** When it parked: the time of the workflow's last history event (the parking). */
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

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order of the results. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Parked events, found by the visibility query `IntakeStatus="parked"`, each asked for its state
 * (status query: attempts and last error) and its parking time (the last history event).
 */
export class ParkedEvents {
  constructor(
    private readonly client: Client,
    private readonly queryTimeoutMs = 5000,
  ) {}

  /** The parked events matching the filter. An event resumed meanwhile is left out. */
  async list(filter: ParkedFilter = {}): Promise<ParkedEvent[]> {
    const issue = parseIssueId(filter.issue);
    const query = eventsQuery({ status: 'parked', source: filter.source, running: true });
    const found: { id: string; source: string; eventType: string | null }[] = [];
    for await (const wf of this.client.workflow.list({ query })) {
      const sa = wf.searchAttributes as Record<string, unknown[] | undefined>;
      const kw = (k: string) => (typeof sa[k]?.[0] === 'string' ? (sa[k]![0] as string) : null);
      found.push({ id: wf.workflowId, source: kw('IntakeSource') ?? '', eventType: kw('IntakeEventType') });
    }
    const events = await mapLimit(found, CONCURRENCY, (e) => this.inspect(e));
    return events.filter(
      (e): e is ParkedEvent => e !== undefined && (issue === undefined || e.issue.id === issue),
    );
  }

  /** The parked events grouped by error signature, the largest group first. */
  async issues(filter: ParkedFilter = {}): Promise<Issue[]> {
    return groupIssues(await this.list(filter));
  }

  private async inspect(e: {
    id: string;
    source: string;
    eventType: string | null;
  }): Promise<ParkedEvent | undefined> {
    const handle = this.client.workflow.getHandle(e.id);
    let state: EventState | undefined;
    // A busy worker may miss one deadline; a second, longer try keeps a bogus `unknown` issue rare.
    for (const timeoutMs of [this.queryTimeoutMs, this.queryTimeoutMs * 2]) {
      try {
        state = await this.client.connection.withDeadline(Date.now() + timeoutMs, () =>
          handle.query(statusQuery),
        );
        break;
      } catch {
        // No worker answered (or the workflow closed meanwhile): keep it, with an unknown error.
      }
    }
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

/** Groups parked events by issue id: count, event types, first/last parking time, sample ids. */
export function groupIssues(events: ParkedEvent[]): Issue[] {
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
