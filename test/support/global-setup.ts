import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTemporalCli } from '../../src/dev/cli-binary';
import { startDevServer, type DevServer } from '../../src/dev/dev-server';
import { writeWorkflowBundles } from '../../src/worker/workflow-bundle';
import { TEST_DEV_SERVER_DYNAMIC_CONFIG } from './dev-server-config';
import { freePort } from './ports';

declare global {
  var __INTAKE_TEST_SERVER__: { server: DevServer; dir: string } | undefined;
}

/**
 * One real Temporal dev server for the whole run; tests isolate themselves by task queue and ids.
 * The workflow bundles are built once for the run, from the source as it is now, and every worker
 * the tests start loads one (INTAKE_TEST_WORKFLOW_BUNDLE[_TRACED], see testBundleEnv) as a
 * production worker loads dist/'s, instead of running webpack (about a second) at each start. The
 * path a worker takes when it bundles at start (`npm start`) keeps its own tests (tracing, dev e2e).
 */
export default async function globalSetup(): Promise<void> {
  const binary = await findTemporalCli({ explicitPath: process.env.TEMPORAL_CLI_PATH, env: process.env });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-test-temporal-'));
  const address = `127.0.0.1:${await freePort()}`;
  const server = await startDevServer({
    binary,
    address,
    dataDir: dir,
    headless: true,
    env: process.env,
    dynamicConfig: TEST_DEV_SERVER_DYNAMIC_CONFIG,
  });
  const bundles = await writeWorkflowBundles(path.join(dir, 'bundle', 'workflow-bundle.js'), { quiet: true });
  globalThis.__INTAKE_TEST_SERVER__ = { server, dir };
  process.env.INTAKE_TEST_WORKFLOW_BUNDLE = bundles.plain;
  process.env.INTAKE_TEST_WORKFLOW_BUNDLE_TRACED = bundles.traced;
  process.env.INTAKE_TEST_TEMPORAL_ADDRESS = address;
  process.env.INTAKE_TEST_TEMPORAL_CLI = binary;
}
