import type { z } from 'zod';
import type { Config } from '../config';
import { readDevSecrets } from '../dev/dev-secrets';
import type { EventSummary, EventView } from '../operations/event-service';
import type { Issue } from '../operations/parked-events';
import type { RedriveStart, RedriveView } from '../operations/redrive-service';
import type { ReplayStart, ReplayView } from '../operations/replay-service';
import {
  deadLetterActionSchema,
  discardRequestSchema,
  eventListQuerySchema,
  issuesQuerySchema,
  parseRequest,
  redriveRequestSchema,
  replayRequestSchema,
  type DeadLetterAction,
} from '../operations/requests';
import { fetchApi } from './reach';

/** The admin API answered with an error; the message is what it said (or how to fix a 401). */
export class OperatorApiError extends Error {
  override readonly name = 'OperatorApiError';
  constructor(
    /** HTTP status of the answer. */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** What an error answer says: its `message` (e.g. "unknown event"), else its `error` code, else the text. */
function errorText(status: number, text: string): string {
  let body: { error?: unknown; message?: unknown; status?: unknown } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: shown as is
  }
  const said =
    typeof body?.message === 'string'
      ? body.message
      : body?.error === 'not_parked' && typeof body.status === 'string'
        ? `event is ${body.status}, not parked`
        : body?.error === 'not_running' && typeof body.status === 'string'
          ? `it is ${body.status}, not running`
          : text;
  return `the API answered ${status}: ${said}`;
}

const enc = encodeURIComponent;

/**
 * The CLI's one transport for operator requests: the admin HTTP API at INTAKE_API_URL (default
 * http://127.0.0.1:$PORT), with INTAKE_ADMIN_TOKEN as bearer, or, when it is unset, the admin token
 * `npm start` generated in INTAKE_DATA_DIR/dev-secrets.json. Every request is parsed with the same
 * schema the API parses it with (src/operations/requests.ts) before it is sent, so a bad option is
 * refused locally with the API's message.
 */
export class OperatorClient {
  private readonly base: string;
  private readonly token: string | undefined;

  constructor(config: Config) {
    this.base = config.apiUrl.replace(/\/$/, '');
    this.token = config.adminToken ?? readDevSecrets(config.dataDir)?.adminToken;
  }

  /** `GET /admin/events`: by status and source. */
  async listEvents(q: z.input<typeof eventListQuerySchema>): Promise<EventSummary[]> {
    const { status, source, limit } = parseRequest(eventListQuerySchema, q);
    const query = new URLSearchParams({ limit: String(limit), ...(status ? { status } : {}) });
    if (source) query.set('source', source);
    return (await this.call<{ events: EventSummary[] }>('GET', `/admin/events?${query}`)).events;
  }

  /** `GET /events/:id`. */
  showEvent(id: string): Promise<EventView> {
    return this.call('GET', `/events/${enc(id)}`);
  }

  /** `POST /events/:id/retry`: resumes a parked event. */
  async retry(id: string): Promise<void> {
    await this.call('POST', `/events/${enc(id)}/retry`);
  }

  /** `POST /events/:id/discard`: gives up on a parked event. */
  async discard(id: string, reason?: string): Promise<void> {
    await this.call('POST', `/events/${enc(id)}/discard`, parseRequest(discardRequestSchema, { reason }));
  }

  /** `POST /admin/rejected/:id/reingest|drop`: a quarantined event. */
  rejected(id: string, action: 'reingest' | 'drop'): Promise<unknown> {
    return this.call('POST', `/admin/rejected/${enc(id)}/${action}`);
  }

  /** `POST /admin/dead-letters/:id/drop|requeue`. */
  deadLetter(req: DeadLetterAction): Promise<unknown> {
    const { id, action } = parseRequest(deadLetterActionSchema, req);
    return this.call('POST', `/admin/dead-letters/${enc(id)}/${action}`);
  }

  /** `GET /admin/issues`: parked events grouped by error signature. */
  async issues(q: { source?: string }): Promise<Issue[]> {
    const { source } = parseRequest(issuesQuerySchema, q);
    const query = source ? `?${new URLSearchParams({ source })}` : '';
    return (await this.call<{ issues: Issue[] }>('GET', `/admin/issues${query}`)).issues;
  }

  /** `POST /admin/retry-parked`: a redrive, or the count of a dry run. */
  retryParked(req: z.input<typeof redriveRequestSchema>): Promise<RedriveStart> {
    return this.call('POST', '/admin/retry-parked', parseRequest(redriveRequestSchema, req));
  }

  /** `GET /admin/redrives`. */
  async redrives(): Promise<RedriveView[]> {
    return (await this.call<{ redrives: RedriveView[] }>('GET', '/admin/redrives')).redrives;
  }

  /** `GET /admin/redrives/:id`. */
  redrive(id: string): Promise<RedriveView> {
    return this.call('GET', `/admin/redrives/${enc(id)}`);
  }

  /** `POST /admin/redrives/:id/cancel`. */
  async cancelRedrive(id: string): Promise<void> {
    await this.call('POST', `/admin/redrives/${enc(id)}/cancel`);
  }

  /** `POST /admin/replay`: a replay, or the count of a dry run. */
  replay(req: z.input<typeof replayRequestSchema>): Promise<ReplayStart> {
    return this.call('POST', '/admin/replay', parseRequest(replayRequestSchema, req));
  }

  /** `GET /admin/replays`. */
  async replays(): Promise<ReplayView[]> {
    return (await this.call<{ replays: ReplayView[] }>('GET', '/admin/replays')).replays;
  }

  /** `GET /admin/replays/:id`. */
  replayView(id: string): Promise<ReplayView> {
    return this.call('GET', `/admin/replays/${enc(id)}`);
  }

  /** `POST /admin/replays/:id/cancel`. */
  async cancelReplay(id: string): Promise<void> {
    await this.call('POST', `/admin/replays/${enc(id)}/cancel`);
  }

  /** One request; `payload` is sent as JSON. OperatorApiError for any answer but 2xx. */
  private async call<T>(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<T> {
    const res = await fetchApi(this.base + path, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
    });
    const text = await res.text();
    if (res.status === 401) {
      throw new OperatorApiError(
        401,
        `the API at ${this.base} refused the admin token (401): set INTAKE_ADMIN_TOKEN to the API's ` +
          `admin token${this.token ? '' : ' (it is unset, and INTAKE_DATA_DIR has no dev-secrets.json)'}, ` +
          `or run eval "$(npx intake env)" for the one \`npm start\` runs`,
      );
    }
    if (!res.ok) throw new OperatorApiError(res.status, errorText(res.status, text));
    return JSON.parse(text) as T;
  }
}
