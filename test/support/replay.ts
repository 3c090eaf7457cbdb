import { randomUUID } from 'node:crypto';
import type { ReplayView } from '../../src/operations/replay-service';
import { mailgunExample } from '../../src/sources/mailgun';
import type { SignedRequest } from '../../src/sources/types';
import { cliEnv, run, type CliResult } from './cli';
import {
  adminGet,
  post,
  READ_AUTH,
  TEST_ADMIN_TOKEN,
  TEST_MAILGUN_KEY,
  waitFor,
  type Intake,
} from './harness';
import path from 'node:path';

/** `intake …` as an operator runs it against this harness's API (replays go through the admin API). */
export function operatorCli(intake: Intake, args: string[], timeoutMs = 600_000): Promise<CliResult> {
  return run(
    path.resolve(__dirname, '../../node_modules/.bin/tsx'),
    ['src/cli/main.ts', ...args],
    { ...cliEnv(intake.config), INTAKE_API_URL: intake.url, INTAKE_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
    timeoutMs,
  );
}

/** POST with the admin token and a JSON body. */
export async function adminPost(intake: Intake, p: string, body?: unknown) {
  const res = await fetch(intake.url + p, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** GET /admin/replays/:id. */
export async function replayView(intake: Intake, id: string): Promise<ReplayView> {
  return (await adminGet(intake.url, `/admin/replays/${encodeURIComponent(id)}`))
    .json as unknown as ReplayView;
}

/** Waits until the replay closed (any status but running). */
export async function replayClosed(intake: Intake, id: string, timeoutMs = 300_000): Promise<ReplayView> {
  const seen: ReplayView[] = [];
  const view = await waitFor(
    async () => {
      const v = await replayView(intake, id);
      if (v.status === 'running') return undefined;
      seen.push(v);
      return v.finishedAt !== null ? v : undefined;
    },
    timeoutMs,
    `replay ${id} closed`,
  );
  // Closed means recorded: every closed view has its end (a view that said `completed` before
  // replayFinish wrote the row had finishedAt null; CI caught it in replay-crash).
  expect(seen.filter((v) => v.finishedAt === null)).toEqual([]);
  return view;
}

/** Mailgun events of given types over messages: `plan` is [messageId, event, count][]. */
export async function sendMailgun(
  intake: Intake,
  plan: [string, string, number][],
): Promise<{ id: string; event: string; messageId: string; req: SignedRequest }[]> {
  const sent: { id: string; event: string; messageId: string; req: SignedRequest }[] = [];
  const reqs = plan.flatMap(([messageId, event, n]) =>
    Array.from({ length: n }, () => ({
      messageId,
      event,
      req: mailgunExample({ signingKey: TEST_MAILGUN_KEY, event, messageId }),
    })),
  );
  for (let i = 0; i < reqs.length; i += 10) {
    await Promise.all(
      reqs.slice(i, i + 10).map(async (r) => {
        const res = await post(intake.url, r.req);
        if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${res.text}`);
        sent.push({ id: res.json.id as string, event: r.event, messageId: r.messageId, req: r.req });
      }),
    );
  }
  return sent;
}

/** A fresh Mailgun message id. */
export const messageId = (): string => `${randomUUID()}@mg.example.com`;

/** GET /messages/:id with the read token. */
export async function message(intake: Intake, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${intake.url}/messages/${encodeURIComponent(id)}`, { headers: READ_AUTH });
  return (await res.json()) as Record<string, unknown>;
}

/** The ledger's revision of each id (missing ids absent). */
export async function ledgerRevisions(intake: Intake, ids: string[]): Promise<Map<string, number>> {
  const { rows } = await intake.store.query<{ id: string; revision: number }>(
    'SELECT id, revision FROM processed_events WHERE id = ANY($1)',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.revision]));
}

/** Waits until every id's ledger revision is `revision`. */
export async function waitRevision(intake: Intake, ids: string[], revision: number, timeoutMs = 300_000) {
  await waitFor(
    async () => {
      const revs = await ledgerRevisions(intake, ids);
      return ids.every((id) => revs.get(id) === revision);
    },
    timeoutMs,
    `${ids.length} event(s) at revision ${revision}`,
  );
}
