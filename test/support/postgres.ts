import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The local PostgreSQL the tests use (trust auth); override with INTAKE_TEST_PG_URL. */
export const PG_ADMIN_URL = process.env.INTAKE_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** A fresh database for one test file; `drop()` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${process.env.INTAKE_TEST_DB_PREFIX ?? 'intake_t'}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
