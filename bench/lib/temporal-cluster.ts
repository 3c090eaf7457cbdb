import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { waitForTemporal } from '../../src/dev/dev-server';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/search-attributes';
import { freeLowPort, ROOT, sleep } from './children';
import { ensureServerBinaries, runTool, schemaDir, temporalCli } from './temporal';

/** A Temporal service a process can run. */
export type TemporalService = 'frontend' | 'history' | 'matching' | 'worker';

/** One service process of the cluster. */
export interface ServiceProcess {
  /** `history-1`, `matching-2`…: the name in the drill's report and log file. */
  name: string;
  service: TemporalService;
  pid(): number | undefined;
  /** kill -9 and wait for the exit. */
  kill9(): Promise<void>;
  /** Starts it again with the same ports (as a supervisor would). */
  restart(): Promise<void>;
}

/** A multi-service Temporal cluster: one process per service instance, on a PostgreSQL server. */
export interface TemporalCluster {
  /** The frontend's host:port. */
  address: string;
  processes: ServiceProcess[];
  /** The first process of `service` with this 1-based index. */
  get(service: TemporalService, index?: number): ServiceProcess;
  stop(): Promise<void>;
}

/** Options of {@link startTemporalCluster}. */
export interface TemporalClusterOptions {
  /** PostgreSQL admin URL (trust auth): the drill's private cluster. */
  pgUrl: string;
  logDir: string;
  log: (line: string) => void;
  /** How many history and matching processes (each ≥ 1). Frontend and worker: one each. */
  history: number;
  matching: number;
}

const SERVICE_PORT_KEYS = ['FRONTEND', 'FRONTEND_HTTP', 'MATCHING', 'HISTORY', 'WORKER'] as const;

async function createDb(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
}

/**
 * Starts Temporal as separate processes (frontend, `history` × history, `matching` × matching,
 * worker) on `pgUrl`: databases and schema by temporal-sql-tool, one config file rendered by each
 * process with its own ports (bench/temporal-cluster/cluster.yaml), then the `default` namespace
 * and Intake's search attributes. Processes find each other through the membership table.
 */
export async function startTemporalCluster(o: TemporalClusterOptions): Promise<TemporalCluster> {
  const { server, sqlTool } = await ensureServerBinaries(o.log);
  const cli = await temporalCli();
  const url = new URL(o.pgUrl);
  const [mainDb, visDb] = ['temporal', 'temporal_visibility'];
  for (const db of [mainDb, visDb]) await createDb(o.pgUrl, db);
  const dir = schemaDir();
  for (const [db, sub] of [
    [mainDb, 'temporal'],
    [visDb, 'visibility'],
  ] as const) {
    const base = [
      '--plugin',
      'postgres12',
      '--ep',
      url.hostname,
      '-p',
      url.port,
      '-u',
      url.username,
      '--db',
      db,
    ];
    runTool(sqlTool, [...base, 'setup-schema', '-v', '0.0']);
    runTool(sqlTool, [...base, 'update-schema', '-d', path.join(dir, sub, 'versioned')]);
  }

  // Ports every process agrees on (the frontend's, for clusterInformation), then each instance's own.
  const shared: Record<string, string> = {};
  for (const k of SERVICE_PORT_KEYS) shared[`BENCH_TEMPORAL_${k}_PORT`] = String(await freeLowPort());
  for (const k of ['FRONTEND', 'MATCHING', 'HISTORY', 'WORKER'])
    shared[`BENCH_TEMPORAL_${k}_MEMBERSHIP_PORT`] = String(await freeLowPort());
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    BENCH_TEMPORAL_DB: mainDb,
    BENCH_TEMPORAL_VIS_DB: visDb,
    BENCH_TEMPORAL_PG_ADDR: `${url.hostname}:${url.port}`,
    BENCH_TEMPORAL_PG_USER: url.username,
    BENCH_TEMPORAL_DYNAMIC_CONFIG: path.join(ROOT, 'bench', 'temporal-postgres', 'dynamicconfig.yaml'),
    ...shared,
  };

  const plan: { service: TemporalService; index: number }[] = [
    ...Array.from({ length: o.history }, (_, i) => ({ service: 'history' as const, index: i + 1 })),
    ...Array.from({ length: o.matching }, (_, i) => ({ service: 'matching' as const, index: i + 1 })),
    { service: 'frontend', index: 1 },
    { service: 'worker', index: 1 },
  ];
  const processes: ServiceProcess[] = [];
  for (const { service, index } of plan) {
    const env = { ...baseEnv };
    if (index > 1) {
      const key = service.toUpperCase();
      env[`BENCH_TEMPORAL_${key}_PORT`] = String(await freeLowPort());
      env[`BENCH_TEMPORAL_${key}_MEMBERSHIP_PORT`] = String(await freeLowPort());
    }
    processes.push(serviceProcess(server, `${service}-${index}`, service, env, o.logDir));
  }
  // Every service process writes the cluster metadata at start if the table is empty: started
  // together on fresh databases they race, and the loser exits ("failed to initialize current
  // cluster metadata"). The first process writes it alone; the others then only read it.
  await processes[0]!.restart();
  await waitForClusterMetadata(o.pgUrl, mainDb, processes[0]!).catch(async (err: unknown) => {
    await processes[0]!.kill9();
    throw err;
  });
  for (const p of processes.slice(1)) await p.restart();
  const address = `127.0.0.1:${shared.BENCH_TEMPORAL_FRONTEND_PORT}`;
  const stop = async () => {
    for (const p of [...processes].reverse()) await p.kill9();
  };
  try {
    await waitForTemporal(address, 120_000);
    const op = (args: string[]) => runTool(cli, ['operator', ...args, '--address', address]);
    // History and matching join the ring a little after the frontend answers: retry until they do.
    await retry(() => op(['namespace', 'create', '--namespace', 'default', '--retention', '24h']));
    for (const name of SEARCH_ATTRIBUTE_NAMES) {
      await retry(() =>
        op(['search-attribute', 'create', '--namespace', 'default', '--name', name, '--type', 'Keyword']),
      );
    }
    await retry(() => runTool(cli, ['workflow', 'count', '--namespace', 'default', '--address', address]));
  } catch (err) {
    await stop();
    throw err;
  }
  o.log(`temporal cluster on ${address}: ${processes.map((p) => `${p.name} (pid ${p.pid()})`).join(', ')}`);
  return {
    address,
    processes,
    get(service, index = 1) {
      const p = processes.find((x) => x.name === `${service}-${index}`);
      if (!p) throw new Error(`no ${service}-${index} in the cluster`);
      return p;
    },
    stop,
  };
}

/** Waits (up to 120 s) until `first` has written the cluster metadata row into `db`. */
async function waitForClusterMetadata(adminUrl: string, db: string, first: ServiceProcess): Promise<void> {
  const url = new URL(adminUrl);
  url.pathname = `/${db}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const c = new pg.Client({ connectionString: url.toString() });
    try {
      await c.connect();
      const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM cluster_metadata_info');
      if (Number(r.rows[0]?.n ?? 0) > 0) return;
    } finally {
      await c.end().catch(() => undefined);
    }
    if (first.pid() === undefined)
      throw new Error(`${first.name} exited before writing the cluster metadata`);
    if (Date.now() > deadline) throw new Error(`${first.name} wrote no cluster metadata within 120 s`);
    await sleep(250);
  }
}

/**
 * Retries `fn` for up to 90 s (services join the ring, the namespace reaches every cache); an
 * "already exists" answer means an earlier attempt got through.
 */
async function retry(fn: () => void): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (/already (exists|registered)/i.test((err as Error).message)) return;
      if (Date.now() > deadline) throw err;
      await sleep(1000);
    }
  }
}

function serviceProcess(
  server: string,
  name: string,
  service: TemporalService,
  env: NodeJS.ProcessEnv,
  logDir: string,
): ServiceProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const alive = () => !!child && child.exitCode === null && child.signalCode === null;
  return {
    name,
    service,
    pid: () => (alive() ? child?.pid : undefined),
    async kill9() {
      if (!alive()) return;
      child?.kill('SIGKILL');
      await exited;
    },
    async restart() {
      if (alive()) throw new Error(`${name} is still running`);
      fs.mkdirSync(logDir, { recursive: true });
      const fd = fs.openSync(path.join(logDir, `temporal-${name}.log`), 'a');
      const args = [
        '--root',
        path.join(ROOT, 'bench', 'temporal-cluster'),
        '--config',
        '.',
        '--env',
        'cluster',
      ];
      child = spawn(server, [...args, '--allow-no-auth', 'start', '--service', service], {
        env,
        stdio: ['ignore', fd, fd],
      });
      fs.closeSync(fd);
      const c = child;
      exited = new Promise((resolve) => c.once('exit', () => resolve()));
    },
  };
}
