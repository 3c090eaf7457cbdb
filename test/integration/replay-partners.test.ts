import { post, READ_AUTH, startIntake, waitFor, type Intake } from '../support/harness';
import { adminPost, ledgerRevisions, replayClosed, waitRevision } from '../support/replay';
import { partnerRequest } from '../support/requests';

/**
 * Issue 20, must-show 6: partner customers stay last-write-wins across replays. A customer's older
 * update replayed after a newer one arrived keeps the newer data; the newer one replayed is the
 * same data again.
 */
describe('replay of partner events (last-write-wins across replays)', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({ store: 'postgres' });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const customer = async (id: string) => {
    const res = await fetch(`${intake.url}/customers/acme/${encodeURIComponent(id)}`, { headers: READ_AUTH });
    return (await res.json()) as { data: Record<string, unknown>; updatedAt: string };
  };

  it('a customer replayed after a newer update keeps the newer data', async () => {
    const t = Date.now();
    const older = partnerRequest({
      data: { id: 'cus_replay_lww', updatedAt: new Date(t - 60_000).toISOString(), name: 'Old Name' },
    });
    const newer = partnerRequest({
      data: { id: 'cus_replay_lww', updatedAt: new Date(t).toISOString(), name: 'New Name' },
    });
    const first = await post(intake.url, { ...older, body: older.body! });
    expect(first.status).toBe(202);
    const olderId = first.json.id as string;
    await waitRevision(intake, [olderId], 1);
    expect((await customer('cus_replay_lww')).data.name).toBe('Old Name');
    const second = await post(intake.url, { ...newer, body: newer.body! });
    const newerId = second.json.id as string;
    await waitFor(async () => (await customer('cus_replay_lww')).data.name === 'New Name', 60_000, 'newer');

    const res = await adminPost(intake, '/admin/replay', {
      source: 'partners',
      ids: [olderId],
      reason: 'replay the older update',
    });
    expect(res).toMatchObject({ status: 202, json: { matched: 1 } });
    expect(await replayClosed(intake, res.json.replay as string)).toMatchObject({
      status: 'completed',
      replayed: 1,
    });
    await waitRevision(intake, [olderId], 2);
    expect(await customer('cus_replay_lww')).toMatchObject({
      data: { name: 'New Name' },
      updatedAt: new Date(t).toISOString(),
    });

    // The newer one replayed (by its event id without the source) writes the same data again.
    const again = await adminPost(intake, '/admin/replay', {
      source: 'partners',
      ids: [newerId.slice('partners:'.length)],
      reason: 'replay the newer update',
    });
    expect(again.json.matched).toBe(1);
    await replayClosed(intake, again.json.replay as string);
    await waitRevision(intake, [newerId], 2);
    expect((await customer('cus_replay_lww')).data.name).toBe('New Name');
    expect(await ledgerRevisions(intake, [olderId, newerId])).toEqual(
      new Map([
        [olderId, 2],
        [newerId, 2],
      ]),
    );
  });
});
