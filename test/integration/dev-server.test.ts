import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/dev/dev-server';
import { IntakeSource, IntakeStatus } from '../../workflows/search-attributes';
import { freePort } from '../support/ports';

const binary = () => process.env.INTAKE_TEST_TEMPORAL_CLI!;

describe('intake server: the dev server keeps every workflow across kill -9', () => {
  let dir: string;
  let server: DevServer | undefined;
  afterAll(async () => {
    await server?.stop(2000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('registers the search attributes, uses WAL, and survives SIGKILL with its history intact', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-devserver-'));
    const address = `127.0.0.1:${await freePort()}`;
    const start = () =>
      startDevServer({
        binary: binary(),
        address,
        dataDir: dir,
        headless: true,
        env: process.env,
      });
    server = await start();

    let connection = await Connection.connect({ address });
    let client = new Client({ connection });
    const ids = Array.from({ length: 5 }, (_, i) => `mailgun:persist-${Date.now()}-${i}`);
    for (const id of ids) {
      await client.workflow.start('processEvent', {
        taskQueue: 'no-worker-here',
        workflowId: id,
        args: [{}],
        typedSearchAttributes: [
          { key: IntakeSource, value: 'mailgun' },
          { key: IntakeStatus, value: 'queued' },
        ],
      });
    }
    await connection.close();
    // WAL journal: the -wal file exists next to the database while the server runs.
    expect(fs.existsSync(path.join(dir, 'temporal.sqlite-wal'))).toBe(true);

    server.kill('SIGKILL');
    await server.exited;
    server = await start();

    connection = await Connection.connect({ address });
    client = new Client({ connection });
    for (const id of ids) {
      const desc = await client.workflow.getHandle(id).describe();
      expect(desc.status.name).toBe('RUNNING');
    }
    await connection.close();

    // The same query operators use, through the real temporal CLI.
    const out = execFileSync(
      binary(),
      ['workflow', 'list', '--address', address, '--query', 'IntakeSource="mailgun"', '--output', 'json'],
      { encoding: 'utf8' },
    );
    const listed = out.trim()
      ? (JSON.parse(out) as { execution: { workflowId: string } }[]).map((w) => w.execution.workflowId)
      : [];
    expect(listed.sort()).toEqual([...ids].sort());
  });
});
