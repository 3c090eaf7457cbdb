import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { RedriveService } from '../../src/operations/redrive-service';
import { mailgunExample } from '../../src/sources/mailgun';
import { startDevServer, type DevServer } from '../../src/dev/dev-server';
import { post, startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';
import { freePort } from '../support/ports';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/web-ui.png';
const SIGNAL_SCREENSHOT = '/tmp/web-ui-signal.png';
const START_SCREENSHOT = '/tmp/web-ui-start-redrive.png';
const DETAILS_SCREENSHOT = '/tmp/web-ui-parked-details.png';

/** True if nothing listens on 127.0.0.1:port right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A gRPC port whose Web UI port (+1000, the dev server's rule) is free too. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 1000 <= 65535 && (await portIsFree(port + 1000))) return port;
  }
}

/** Waits until the page's text shows every id (the Web UI loads the list after the page); returns the text. */
function showsAll(page: Page, ids: string[]): Promise<string> {
  return waitFor(
    async () => {
      const text = await page.innerText('body');
      return ids.every((id) => text.includes(id)) ? text : undefined;
    },
    60_000,
    'the ids in the Web UI',
  );
}

/** The operator's view: the dev server's Web UI, filtered to parked events, in a real browser. */
describe('Temporal Web UI shows the parked events (headless Chromium)', () => {
  let server: DevServer;
  let dataDir: string;
  let intake: Intake;
  let browser: Browser;

  beforeAll(async () => {
    // No skip: without the browser this test must fail, loudly.
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-webui-'));
    // The run's shared dev server is headless; this one serves the Web UI.
    server = await startDevServer({
      binary: process.env.INTAKE_TEST_TEMPORAL_CLI!,
      address: `127.0.0.1:${await freePortPair()}`,
      dataDir,
      env: process.env,
    });
    intake = await startIntake({
      store: 'postgres',
      temporalAddress: server.address,
      env: { INTAKE_FAILPOINTS: 'mailgun.handler=opened' },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await intake?.stop();
    await server?.stop(3000);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const parked: string[] = [];

  it('lists exactly the parked workflows for the query IntakeStatus="parked"', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'opened' }));
      expect(res.status).toBe(200);
      parked.push(res.json.id as string);
    }
    const res = await post(intake.url, mailgunExample({ signingKey: TEST_MAILGUN_KEY, event: 'delivered' }));
    const processed = res.json.id as string;
    await waitFor(
      async () => (await intake.events.list({ status: 'parked' })).length === parked.length,
      60_000,
      'parked in visibility',
    );
    await waitFor(
      async () => (await intake.events.get(processed)).status === 'processed',
      30_000,
      'processed',
    );

    const url = `${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent('IntakeStatus="parked"')}`;
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    const text = await showsAll(page, parked);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    for (const id of parked) expect(text).toContain(id);
    expect(text).not.toContain(processed);
    expect(text).toContain('processEvent');

    // The runbook's narrower query, with the source.
    const bySource = encodeURIComponent('IntakeStatus="parked" AND IntakeSource="mailgun"');
    await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${bySource}`);
    expect(await showsAll(page, parked)).not.toContain(processed);

    // Parked events show as Running (their workflows wait): the IntakeStatus column tells them apart.
    await page.getByTestId('workflows-summary-table-configuration-button').click();
    await page.getByTestId('orderable-list-item-IntakeStatus-add-button').click();
    await page.getByRole('button', { name: /close/i }).filter({ visible: true }).first().click();
    const table = await waitFor(
      async () => {
        const t = await page.locator('table').first().innerText();
        return (t.match(/\bparked\b/g) ?? []).length === parked.length ? t : undefined;
      },
      30_000,
      'an IntakeStatus column with parked in each row',
    );
    expect(table).toContain('IntakeStatus');
    await page.setViewportSize({ width: 1900, height: 600 });
    await page.waitForTimeout(500); // the drawer's closing animation
    await page.screenshot({ path: SCREENSHOT });
  });

  // Issue 19: the state without per-browser set-up. The start's user metadata gives the Summary
  // (source and event type, nothing personal); the workflow's current details say it is parked, with
  // the error signature.
  it('shows on the workflow page that the event is parked, with its error signature (Summary, Current Details)', async () => {
    const id = parked[0]!;
    const page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}`);
    await page.getByText('User Metadata', { exact: true }).filter({ visible: true }).first().click();
    // The UI renders Summary, Details and Current Details (markdown) in frames of their own.
    const allText = async () =>
      (await Promise.all(page.frames().map((f) => f.innerText('body').catch(() => '')))).join('\n');
    const details = /parked: mailgun Error: failpoint mailgun\.handler/;
    const text = await waitFor(
      async () => {
        const t = await allText();
        return t.includes('mailgun opened') && details.test(t) ? t : undefined;
      },
      60_000,
      'the summary "mailgun opened" and Current Details saying parked with the signature',
    );
    await page.screenshot({ path: DETAILS_SCREENSHOT, fullPage: true });
    expect(text).toMatch(details);
    // No personal data in the metadata: the message id (entity) is not in the summary or details.
    const entity = (await intake.events.get(id)).entity as string | undefined;
    const metadata = await intake.client.workflow.getHandle(id).describe();
    expect(await metadata.staticSummary()).toBe('mailgun opened');
    expect(await metadata.staticDetails()).not.toContain(entity ?? '@');
    await page.close();
  });

  it('after the fix, retries one parked event from its page: More Actions → Send a Signal `retry`', async () => {
    await intake.stopWorker();
    await intake.startWorker({ INTAKE_FAILPOINTS: '' });
    const id = parked[0]!;
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}`);
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByTestId('signal-button').filter({ visible: true }).first().click();
    await page.getByTestId('signal-select-button').filter({ visible: true }).click();
    await page.getByRole('option', { name: 'retry', exact: true }).filter({ visible: true }).click();
    await page.screenshot({ path: SIGNAL_SCREENSHOT });
    await page.getByTestId('confirm-modal-button').filter({ visible: true }).click();
    await waitFor(
      async () => (await intake.events.get(id)).status === 'processed',
      60_000,
      `${id} processed`,
    );
    expect(await intake.events.get(id)).toMatchObject({ attempts: 4, lastError: null });
    // Only that one: the other parked events wait for their own retry.
    for (const other of parked.slice(1)) expect((await intake.events.get(other)).status).toBe('parked');
    await page.close();
  });

  it('redrives the rest from the Start Workflow form: redriveParked with a filter as its input', async () => {
    const redriveId = `redrive:ui-${Date.now()}`;
    const form = new URLSearchParams({
      workflowId: redriveId,
      taskQueue: intake.config.temporal.taskQueue,
      workflowType: 'redriveParked',
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows/start-workflow?${form.toString()}`);
    const data = page.locator('[contenteditable=true]').filter({ visible: true }).first();
    await data.click();
    await page.keyboard.insertText('{"filter":{"source":"mailgun"},"canary":{"count":1}}');
    // Leaving the editor reformats the JSON (and moves the button): blur it before submitting.
    await page.getByRole('heading', { name: 'Start a Workflow' }).click();
    await page.screenshot({ path: START_SCREENSHOT, fullPage: true });
    await page.getByTestId('start-workflow-button').filter({ visible: true }).click();

    const redrives = new RedriveService(intake.client, intake.config.temporal.taskQueue);
    const view = await waitFor(
      async () => {
        const v = await redrives.get(redriveId).catch(() => undefined);
        return v && v.status !== 'running' ? v : undefined;
      },
      90_000,
      'the redrive started from the Web UI to finish',
    );
    expect(view).toMatchObject({ status: 'completed', phase: 'done', matched: 2, sample: 1, signalled: 2 });
    for (const id of parked.slice(1))
      await waitFor(
        async () => (await intake.events.get(id)).status === 'processed',
        60_000,
        `${id} processed`,
      );
    await page.close();
  });
});
