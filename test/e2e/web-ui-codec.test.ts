import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { apiExtraRouters } from '../../src/cli/processes';
import { mailgunExample } from '../../src/sources/mailgun';
import { startDevServer, type DevServer } from '../../src/dev/dev-server';
import { ENCRYPTED_ENCODING, generateEncryptionKey } from '../../src/temporal/encryption-codec';
import { post, startIntake, TEST_MAILGUN_KEY, waitFor, type Intake } from '../support/harness';
import { freePort } from '../support/ports';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/web-ui-codec.png';

/**
 * With INTAKE_ENCRYPTION_KEYS on, Temporal stores only ciphertext; the Web UI shows the decoded
 * input of a parked event by calling Intake's codec endpoint from the browser.
 */
describe('Temporal Web UI decodes encrypted payloads through the codec endpoint (headless Chromium)', () => {
  let server: DevServer;
  let dataDir: string;
  let intake: Intake;
  let browser: Browser;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-webui-codec-'));
    let port = await freePort();
    while (port + 1000 > 65535) port = await freePort();
    const uiOrigin = `http://127.0.0.1:${port + 1000}`;
    // The API first (its URL is the UI's codec endpoint), the worker once the server is up.
    intake = await startIntake({
      store: 'postgres',
      worker: false,
      temporalAddress: `127.0.0.1:${port}`,
      env: {
        INTAKE_FAILPOINTS: 'mailgun.permanent=opened',
        INTAKE_ENCRYPTION_KEYS: generateEncryptionKey('k1'),
      },
      extraRouters: (config) => apiExtraRouters(config, { uiOrigins: [uiOrigin], codecAuth: false }),
    });
    server = await startDevServer({
      binary: process.env.INTAKE_TEST_TEMPORAL_CLI!,
      address: `127.0.0.1:${port}`,
      dataDir,
      env: process.env,
      uiCodecEndpoint: `${intake.url}/codec`,
    });
    await intake.startWorker();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await intake?.stop();
    await server?.stop(3000);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows the decoded input of a parked event; the server holds ciphertext only', async () => {
    const req = mailgunExample({
      signingKey: TEST_MAILGUN_KEY,
      event: 'opened',
      recipient: 'codec-check@example.com',
    });
    const res = await post(intake.url, req);
    expect(res.status).toBe(200);
    const id = res.json.id as string;
    await waitFor(async () => (await intake.events.get(id)).status === 'parked', 60_000, 'parked');

    // What Temporal stores: the input is ciphertext, without the recipient.
    const raw = await intake.client.workflowService.getWorkflowExecutionHistory({
      namespace: intake.config.temporal.namespace,
      execution: { workflowId: id },
    });
    const input = raw.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    expect(Buffer.from(input?.metadata?.encoding ?? []).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(input?.data ?? []).toString('latin1')).not.toContain('codec-check@example.com');

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}`);
    await waitFor(
      async () => (await page.innerText('body')).includes('codec-check@example.com'),
      60_000,
      'the decoded recipient on the workflow page',
    );
    await page.screenshot({ path: SCREENSHOT });
    await page.close();
  });
});
