import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServer } from '../../src/dev/dev-server';
import { TEST_DEV_SERVER_DYNAMIC_CONFIG } from './dev-server-config';
import { freePort } from './ports';

const binary = () => process.env.INTAKE_TEST_TEMPORAL_CLI ?? process.env.TEMPORAL_CLI_PATH ?? 'temporal';

/** A Temporal dev server of this file's own, on a fixed address, that a test may kill and restart. */
export async function stoppableServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-test-spool-'));
  const address = `127.0.0.1:${await freePort()}`;
  const start = () =>
    startDevServer({
      binary: binary(),
      address,
      dataDir: dir,
      headless: true,
      env: process.env,
      dynamicConfig: TEST_DEV_SERVER_DYNAMIC_CONFIG,
    });
  let server: DevServer | undefined = await start();
  return {
    address,
    async kill() {
      await server?.stop();
      server = undefined;
    },
    async restart() {
      server = await start();
    },
    async close() {
      await server?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
