import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTemporalCli } from '../../src/dev/cli-binary';
import { startDevServer, type DevServer } from '../../src/dev/dev-server';
import { freePort } from './ports';

declare global {
  var __INTAKE_TEST_SERVER__: { server: DevServer; dir: string } | undefined;
}

/** One real Temporal dev server for the whole run; tests isolate themselves by task queue and ids. */
export default async function globalSetup(): Promise<void> {
  const binary = await findTemporalCli({ explicitPath: process.env.TEMPORAL_CLI_PATH, env: process.env });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-test-temporal-'));
  const address = `127.0.0.1:${await freePort()}`;
  const server = await startDevServer({ binary, address, dataDir: dir, headless: true, env: process.env });
  globalThis.__INTAKE_TEST_SERVER__ = { server, dir };
  process.env.INTAKE_TEST_TEMPORAL_ADDRESS = address;
  process.env.INTAKE_TEST_TEMPORAL_CLI = binary;
}
