import { WorkflowNotFoundError } from '@temporalio/client';
import fc from 'fast-check';
import { isConnectionReset, startIntake, waitFor, type Intake } from '../support/harness';
import { mailgunRequest, partnerRequest, type Json, type TestRequest } from '../support/requests';

/**
 * Property-based fuzzing of both sources with mutated, correctly signed requests (fast-check).
 * For every request: an answer within the deadline and never a 5xx; a workflow exists for the
 * event's id if and only if the answer was 2xx. At the end every accepted event is `processed`:
 * nothing acknowledged is left retrying or parked.
 *
 * Fixed seed and a small run count keep CI fast and reproducible. A longer run:
 *   INTAKE_FUZZ_RUNS=2000 INTAKE_FUZZ_SEED=$RANDOM npx jest test/integration/fuzz.test.ts
 * (a failure prints the seed and the shrunk counterexample to replay it).
 */
const SEED = Number(process.env.INTAKE_FUZZ_SEED ?? 20261125);
const RUNS = Number(process.env.INTAKE_FUZZ_RUNS ?? 150);
/** Longest a single answer may take: far above a normal one, far below a hang. */
const ANSWER_DEADLINE_MS = 15_000;

/** Values that break stores, parsers and terminals, mixed with ordinary ones. */
const nasty = fc.oneof(
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udc00',
    '\u202eevil',
    '\ufeffbom',
    '\u200b',
    '',
    ' ',
    '😀',
    '€'.repeat(998),
    'x'.repeat(5000),
    1.2e29,
    -1,
    0,
    1e-300,
    Number.MAX_SAFE_INTEGER,
    253402300800,
    '9999-12-31T23:59:59Z',
    '0001-01-01T00:00:00+14:00',
    '2026-02-30T00:00:00Z',
    true,
    null,
    [],
    {},
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc
    .date({
      min: new Date('0001-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59Z'),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString()),
);

/** Sets (or, with undefined, deletes) a dotted path, creating objects on the way. */
function setPath(body: Json, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  const last = keys.pop()!;
  let o: Json = body;
  for (const k of keys) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Json;
  }
  if (value === undefined) delete o[last];
  else o[last] = value;
}

const MAILGUN_PATHS = [
  'event-data.id',
  'event-data.event',
  'event-data.timestamp',
  'event-data.recipient',
  'event-data.severity',
  'event-data.reason',
  'event-data.message.headers.message-id',
  'event-data.message.headers',
  'event-data.user-variables',
  'event-data.tags',
  'event-data',
  'signature.token',
  'signature.timestamp',
];
/** Free-text fields where most values are legitimate: these keep enough requests valid. */
const MAILGUN_TEXT = [
  'event-data.recipient',
  'event-data.reason',
  'event-data.user-variables.note',
  'event-data.extra',
];
const PARTNER_TEXT = ['data.name', 'data.email', 'data.note', 'data.address.city', 'note'];
const PARTNER_PATHS = [
  'type',
  'timestamp',
  'data',
  'data.id',
  'data.updatedAt',
  'data.name',
  'data.email',
  'data.address',
];

/** One field change: a path (known, or a new key below one) and a value, or a deletion. */
const fieldChange = (paths: string[]) =>
  fc.record({
    path: fc.oneof(
      fc.constantFrom(...paths),
      fc
        .tuple(fc.constantFrom(...paths), fc.string({ unit: 'binary', maxLength: 8 }))
        .map(([p, k]) => `${p}.${k}`),
    ),
    value: fc.option(nasty, { nil: undefined, freq: 8 }),
  });

/** A legitimate-looking change to a free-text field: any text, any JSON. */
const textChange = (paths: string[]) =>
  fc.record({
    path: fc.constantFrom(...paths),
    value: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.jsonValue({ maxDepth: 2 })),
  });

/** Sometimes (1 in `oneIn`) an arbitrary, usually absent. */
const rarely = <T>(arb: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/** A change to the bytes after serialising: cut them short, or insert one character. */
const byteChange = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('truncate', 'insert'),
  ch: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
});
const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/json, text/plain',
);

interface Case {
  source: 'mailgun' | 'partners';
  fields: { path: string; value: unknown }[];
  bytes?: { at: number; op: string; ch: string };
  contentType: string;
  webhookId?: string;
}

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  fc.record({
    source: fc.constant('mailgun' as const),
    fields: fc.array(fc.oneof(textChange(MAILGUN_TEXT), fieldChange(MAILGUN_PATHS)), { maxLength: 3 }),
    bytes: rarely(byteChange, 6),
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      { weight: 1, arbitrary: contentTypes },
    ),
  }),
  fc.record({
    source: fc.constant('partners' as const),
    fields: fc.array(fc.oneof(textChange(PARTNER_TEXT), fieldChange(PARTNER_PATHS)), { maxLength: 3 }),
    bytes: rarely(byteChange, 6),
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      { weight: 1, arbitrary: contentTypes },
    ),
    webhookId: rarely(fc.string({ unit: 'grapheme-ascii', maxLength: 210 }), 6),
  }),
);

/** The mutated request and the workflow id it would start, when it names one. */
function build(c: Case): { req: TestRequest; id?: string } {
  const mutateBytes = (text: string) => {
    if (!c.bytes) return text;
    const at = c.bytes.at % (text.length + 1);
    return c.bytes.op === 'truncate' ? text.slice(0, at) : text.slice(0, at) + c.bytes.ch + text.slice(at);
  };
  if (c.source === 'mailgun') {
    // Mailgun signs timestamp + token only: the body is changed after signing, as an attacker can.
    const r = mailgunRequest({
      contentType: c.contentType,
      mutate: (b) => c.fields.forEach((f) => setPath(b, f.path, f.value)),
    });
    const eventId = (r.json['event-data'] as Json | undefined)?.id;
    return {
      req: { ...r, body: mutateBytes(r.body as string) },
      id: typeof eventId === 'string' ? `mailgun:${eventId}` : undefined,
    };
  }
  // Standard Webhooks signs the body: changed fields are signed, changed bytes are not.
  const base = JSON.parse(partnerRequest().body as string) as Json;
  for (const f of c.fields) setPath(base, f.path, f.value);
  const r = partnerRequest({
    bodyText: JSON.stringify(base),
    contentType: c.contentType,
    webhookId: c.webhookId,
  });
  return { req: { ...r, body: mutateBytes(r.body as string) }, id: `partners:acme:${r.webhookId}` };
}

describe('fuzz: mutated signed requests to both sources', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres' });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const exists = async (id: string) => {
    try {
      await intake.client.workflow.getHandle(id).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  };

  it(`${RUNS} runs (seed ${SEED}): no 5xx, no hang, a workflow iff 2xx, every 2xx processed`, async () => {
    const accepted = new Set<string>();
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const { req, id } = build(c);
        let res: Response | undefined;
        for (let attempt = 1; !res; attempt++) {
          try {
            res = await fetch(intake.url + req.path, {
              method: req.method,
              headers: req.headers,
              body: Buffer.from(req.body ?? ''),
              signal: AbortSignal.timeout(ANSWER_DEADLINE_MS),
            });
          } catch (err) {
            // fetch itself refuses some header values (a TypeError without a cause): nothing was sent.
            if (err instanceof TypeError && err.cause === undefined) return;
            // A keep-alive connection closed under us: send again, as a provider does.
            if (attempt < 3 && isConnectionReset(err)) continue;
            throw err;
          }
        }
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) throw new Error(`${res.status} ${text}`);
        if (res.status < 300) {
          const answered = (JSON.parse(text) as { id: string }).id;
          if (!(await exists(answered))) throw new Error(`${res.status} for ${answered} but no workflow`);
          accepted.add(answered);
        } else if (id && !accepted.has(id) && (await exists(id))) {
          throw new Error(`${res.status} ${text} but workflow ${id} exists`);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
    // Both outcomes were exercised, else the property proved little.
    const twoXx = [...statuses].filter(([s]) => s < 300).reduce((n, [, k]) => n + k, 0);
    const refused = [...statuses].filter(([s]) => s >= 400).reduce((n, [, k]) => n + k, 0);
    process.stdout.write(`fuzz answers by status: ${JSON.stringify(Object.fromEntries(statuses))}\n`);
    expect({ twoXx: twoXx > RUNS / 10, refused: refused > RUNS / 10 }).toEqual({
      twoXx: true,
      refused: true,
    });
    const unfinished: string[] = [];
    for (const id of accepted) {
      const view = await waitFor(
        async () => {
          const v = await intake.events.get(id);
          return v.status === 'processed' || v.status === 'parked' ? v : undefined;
        },
        60_000,
        `${id} to finish`,
      );
      if (view.status !== 'processed') unfinished.push(`${id}: ${view.status} ${view.lastError}`);
    }
    expect(unfinished).toEqual([]);
  });
});
