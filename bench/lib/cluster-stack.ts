import pg from 'pg';
import { startPrivateCluster, type PrivateCluster } from './chaos-postgres';
import { cpuSeconds, treeCpuSeconds } from './cpu';
import { TEMPORAL_SERVER_VERSION, type TemporalBackend } from './temporal';
import { startTemporalCluster, type TemporalCluster, type TemporalService } from './temporal-cluster';

/**
 * The multi-service Temporal cluster as `npm run drill:cluster` and `npm run bench:drain -- --server
 * cluster` run it: a PostgreSQL cluster of its own (initdb in a temporary folder, never the shared
 * server), then Temporal v1.29.1 as separate frontend, history × n, matching × n and worker
 * processes on it (bench/lib/temporal-cluster.ts, 4 history shards).
 */
export interface ClusterStack {
  pg: PrivateCluster;
  temporal: TemporalCluster;
  /** The cluster as a bench backend: its CPU is every service process plus the whole private PostgreSQL. */
  backend: TemporalBackend;
  /** CREATE DATABASE on the private PostgreSQL; resolves to its URL. */
  createDatabase(name: string): Promise<string>;
  /**
   * CPU seconds used so far, by part: each Temporal service (its live processes) and `postgres`
   * (the postmaster with every backend it forked, exited ones included).
   */
  cpuByPart(): Record<TemporalService | 'postgres', number>;
  /** Stops Temporal, then removes the private PostgreSQL. */
  stop(): Promise<void>;
}

/** Options of {@link startClusterStack}. */
export interface ClusterStackOptions {
  logDir: string;
  log: (line: string) => void;
  /** History and matching processes (default 2 each; frontend and worker: one each). */
  history?: number;
  matching?: number;
  /** max_connections of the private PostgreSQL (default 300: every service process opens pools). */
  maxConnections?: number;
}

export async function startClusterStack(o: ClusterStackOptions): Promise<ClusterStack> {
  const history = o.history ?? 2;
  const matching = o.matching ?? 2;
  const pgCluster = await startPrivateCluster(o.log, { maxConnections: o.maxConnections ?? 300 });
  let temporal: TemporalCluster;
  try {
    temporal = await startTemporalCluster({
      pgUrl: pgCluster.url,
      logDir: o.logDir,
      log: o.log,
      history,
      matching,
    });
  } catch (err) {
    await pgCluster.remove();
    throw err;
  }
  const cpuByPart = () => {
    const parts = { frontend: 0, history: 0, matching: 0, worker: 0, postgres: 0 };
    for (const p of temporal.processes) {
      const pid = p.pid();
      if (pid !== undefined) parts[p.service] += cpuSeconds(pid) ?? 0;
    }
    const postmaster = pgCluster.pid();
    if (postmaster !== undefined) parts.postgres = treeCpuSeconds(postmaster) ?? 0;
    return parts;
  };
  const stop = async () => {
    await temporal.stop();
    await pgCluster.remove();
  };
  return {
    pg: pgCluster,
    temporal,
    cpuByPart,
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: pgCluster.url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      const url = new URL(pgCluster.url);
      url.pathname = `/${name}`;
      return url.toString();
    },
    backend: {
      kind: 'cluster',
      label:
        `Temporal server ${TEMPORAL_SERVER_VERSION} as separate processes (frontend ×1, history ×${history}, ` +
        `matching ×${matching}, worker ×1; 4 history shards) on a private PostgreSQL 15`,
      address: temporal.address,
      cpuSeconds: () => Promise.resolve(Object.values(cpuByPart()).reduce((a, b) => a + b, 0)),
      stop,
    },
    stop,
  };
}
