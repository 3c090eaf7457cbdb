import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { packageRoot } from '../platform/paths';

/** Anything that runs a parameterised query: the pool or a transaction's client. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** PostgreSQL URL. Unset: the embedded PGlite store under `dataDir`. */
  databaseUrl?: string;
  /** Folder of the embedded store (`<dataDir>/pglite`). */
  dataDir: string;
  /** Pool size for PostgreSQL. Default 10. The embedded store always uses one connection. */
  poolSize?: number;
  /** Apply pending migrations before returning. Default true. */
  migrate?: boolean;
}

/**
 * The processed-data store: PostgreSQL through `pg`, in both modes. In embedded mode PGlite runs
 * in-process and is served over a loopback socket, so queries, transactions and the migration tool
 * are the same code as in production.
 */
export class Store implements Queryable {
  constructor(
    /** The connection pool. */
    readonly pool: pg.Pool,
    /** True when backed by embedded PGlite. */
    readonly embedded: boolean,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) {
    return this.pool.query<R>(text, values);
  }

  /** Runs `fn` in one transaction; commits if it resolves, rolls back if it throws. */
  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** True if the store answers a trivial query within `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.pool.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
        }),
      ]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
    await this.onClose();
  }
}

/** Folder of the SQL migrations, from source or from dist/. */
export function migrationsDir(): string {
  return path.join(packageRoot(), 'src', 'store', 'migrations');
}

/** Applies pending migrations with node-pg-migrate (advisory-locked and waiting, so replicas may race safely). */
export async function migrate(pool: pg.Pool, embedded: boolean): Promise<void> {
  const { runner } = await import('node-pg-migrate');
  const client = await pool.connect();
  try {
    await runner({
      dbClient: client,
      dir: migrationsDir(),
      direction: 'up',
      migrationsTable: 'intake_migrations',
      count: Infinity,
      noLock: embedded,
      // Replicas starting together queue on the lock instead of failing start-up.
      advisoryLockMode: 'wait',
      log: () => undefined,
    });
  } finally {
    client.release();
  }
}

/** Opens (and by default migrates) the store described by `opts`. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  let store: Store;
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10 });
    pool.on('error', () => undefined); // idle-client errors surface on the next query instead
    store = new Store(pool, false);
  } else {
    store = await openEmbedded(path.join(opts.dataDir, 'pglite'));
  }
  if (opts.migrate !== false) {
    try {
      await migrate(store.pool, store.embedded);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }
  return store;
}

async function openEmbedded(dir: string): Promise<Store> {
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  fs.mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
  await server.start();
  const address = (server as unknown as { server?: { address(): { port: number } } }).server?.address();
  if (!address) throw new Error('embedded store did not bind a port');
  // PGlite is a single session: one pooled connection keeps transactions isolated.
  const pool = new pg.Pool({
    host: '127.0.0.1',
    port: address.port,
    user: 'postgres',
    database: 'postgres',
    max: 1,
  });
  pool.on('error', () => undefined);
  return new Store(pool, true, async () => {
    await server.stop();
    await db.close();
  });
}
