import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import pg from 'pg';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/search-attributes';
import { run } from '../support/cli';
import { waitFor } from '../support/harness';
import { createTestDatabase } from '../support/postgres';

/**
 * The one-shot deploy commands the Helm chart's pre-install/pre-upgrade Jobs run: `intake migrate`
 * and `intake search-attributes`, as real child processes against the local PostgreSQL and the
 * test run's Temporal dev server. Both must be safe to run on every upgrade.
 */
const root = path.resolve(__dirname, '../..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const address = process.env.INTAKE_TEST_TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
const intake = (args: string[], env: Record<string, string>) =>
  run(tsx, ['src/cli/main.ts', ...args], { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, 120_000);

describe('intake migrate', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('applies every migration to an empty database, and a second run changes nothing', async () => {
    const first = await intake(['migrate'], { DATABASE_URL: db.url });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const applied = Number(/(\d+) migrations applied/.exec(first.stdout)?.[1]);
    expect(applied).toBeGreaterThan(0);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const tables = await client.query(
        `SELECT to_regclass('start_spool') AS t, to_regclass('intake_migrations') AS m`,
      );
      expect(tables.rows[0]).toEqual({ t: 'start_spool', m: 'intake_migrations' });
      const again = await intake(['migrate'], { DATABASE_URL: db.url });
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(`${applied} migrations applied`);
    } finally {
      await client.end();
    }
  });

  it('refuses to run without DATABASE_URL (it would migrate a throw-away embedded store)', async () => {
    const r = await intake(['migrate'], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('DATABASE_URL is not set');
  });
});

describe('intake search-attributes', () => {
  const namespace = `intake-sa-${randomBytes(5).toString('hex')}`;
  let connection: Connection;
  beforeAll(async () => {
    connection = await Connection.connect({ address });
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    // The namespace must be visible to the frontend before attributes can be added to it.
    await waitFor(
      async () => !!(await connection.workflowService.describeNamespace({ namespace })),
      60_000,
      'namespace registration',
    );
  });
  afterAll(() => connection.close());

  it('registers its attributes, each with its type, in a namespace that has none, then leaves them alone', async () => {
    const env = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace, LOG_LEVEL: 'warn' };
    const first = await intake(['search-attributes', '--no-wait'], env);
    expect(first.code).toBe(0);
    for (const name of SEARCH_ATTRIBUTE_NAMES) expect(first.stdout).toContain(`${name}: registered`);
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    const { INDEXED_VALUE_TYPE_KEYWORD: keyword, INDEXED_VALUE_TYPE_DATETIME: datetime } =
      temporal.api.enums.v1.IndexedValueType;
    for (const name of SEARCH_ATTRIBUTE_NAMES)
      expect(listed.customAttributes?.[name]).toBe(name === 'IntakeParkedAt' ? datetime : keyword);

    const second = await intake(['search-attributes', '--no-wait'], env);
    expect(second.code).toBe(0);
    for (const name of SEARCH_ATTRIBUTE_NAMES) expect(second.stdout).toContain(`${name}: already registered`);
  });
});
