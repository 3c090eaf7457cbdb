import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The local PostgreSQL (trust auth); override with BENCH_PG_URL. */
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** A database the bench created; `drop()` removes it. */
export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * CREATE DATABASE `<BENCH_DB_PREFIX><prefix>_<random>` on the local server (BENCH_DB_PREFIX, e.g.
 * `pgsrv_`, keeps a shared server's databases apart; default none).
 */
export async function createDatabase(prefix: string): Promise<BenchDatabase> {
  const own = process.env.BENCH_DB_PREFIX ?? '';
  if (!/^[a-z0-9_]*$/.test(own)) throw new Error(`BENCH_DB_PREFIX "${own}" must be [a-z0-9_]*`);
  const name = `${own}${prefix}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => dropDatabase(name),
  };
}

/** ALTER DATABASE … SET synchronous_commit: for the sessions opened on `name` from now on. */
export async function setSynchronousCommit(name: string, value: 'on' | 'off'): Promise<void> {
  await admin((c) => c.query(`ALTER DATABASE ${name} SET synchronous_commit = ${value}`));
}

/** Pids of the PostgreSQL backends connected to these databases now (same machine). */
export async function backendPids(databases: string[]): Promise<number[]> {
  const r = await admin((c) =>
    c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)', [databases]),
  );
  return r.rows.map((row) => row.pid);
}

/** DROP DATABASE … WITH (FORCE); errors are ignored (best-effort cleanup). */
export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
}

/** host:port and user of the admin URL (for the Temporal server's SQL config). */
export function pgEndpoint(): { host: string; port: number; user: string } {
  const u = new URL(PG_ADMIN_URL);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
  };
}
