import { WorkerMetrics } from '../../src/platform/metrics';
import { createWorker } from '../../src/worker/worker';
import { startIntake, waitFor, type Intake } from '../support/harness';
import { mailgunRequest, send } from '../support/requests';

/**
 * intake_events_parked_total is counted by processEvent when it parks (a sink), so it counts a park
 * straight from the quick local round (a budget of one attempt: no regular activity to fall back
 * to), and a worker that replays the history of a parked event does not count that park again.
 */
describe('intake_events_parked_total', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({
      store: 'postgres',
      worker: false,
      env: { INTAKE_FAILPOINTS: 'mailgun.handler=complained', INTAKE_RETRY_MAX_ATTEMPTS: '1' },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  const startWorker = async () => {
    const metrics = new WorkerMetrics({ defaultMetrics: false });
    const { worker, connection } = await createWorker({
      config: intake.config,
      store: intake.store,
      logger: intake.logger,
      metrics,
      shutdownGraceS: 1,
    });
    const running = worker.run();
    const parked = async () =>
      (await metrics.registry.getSingleMetric('intake_events_parked_total')?.get())?.values.find(
        (v) => v.labels.source === 'mailgun',
      )?.value ?? 0;
    return {
      parked,
      async stop() {
        worker.shutdown();
        await running;
        await connection.close();
      },
    };
  };

  it('counts a park from the local round once, and not again when another worker replays it', async () => {
    const req = mailgunRequest({ event: 'complained' });
    expect((await send(intake.url, req)).status).toBe(200);
    const id = `mailgun:${req.eventId}`;

    const first = await startWorker();
    await waitFor(async () => (await intake.events.get(id)).status === 'parked', 180_000);
    const view = await intake.events.get(id);
    expect(view).toMatchObject({ attempts: 1 });
    // The only attempt was the quick local one: no regular activity to fall back to.
    const history = await intake.client.workflow.getHandle(id).fetchHistory();
    expect(history.events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
    expect(await first.parked()).toBe(1);
    await first.stop();

    // A new worker replays the parked history (no count), the retry parks it again (one count).
    const second = await startWorker();
    await intake.events.retry(id);
    await waitFor(async () => (await intake.events.get(id)).attempts === 2, 180_000);
    await waitFor(async () => (await intake.events.get(id)).status === 'parked', 180_000);
    expect(await second.parked()).toBe(1);
    await second.stop();
  });
});
