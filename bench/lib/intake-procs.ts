import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, spawnTs, waitForHttp, type Child } from './children';
import { BENCH_MAILGUN_KEY } from './mailgun-bodies';
import { writeWorkflowBundles } from '../../src/worker/workflow-bundle';

/** The admin token of bench and chaos Intake processes (production mode: at least 32 characters). */
export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

/** What an Intake API/worker pair shares. */
export interface IntakeSetup {
  temporalAddress: string;
  databaseUrl: string;
  taskQueue: string;
  logDir: string;
  /** Extra environment (tuning: LOG_LEVEL, INTAKE_WORKER_MAX_ACTIVITIES, failpoints…). */
  env?: Record<string, string>;
  /** API processes sharing the port (node:cluster, bench/scenarios/api-cluster.ts). Default 1. */
  apiProcesses?: number;
  /** Extra node flags of the `intake api` process (e.g. `--cpu-prof`). */
  apiNodeArgs?: string[];
}

/** The environment `intake api|worker` run with in the bench (production mode, PostgreSQL store). */
export function intakeEnv(s: IntakeSetup, port = 0): NodeJS.ProcessEnv {
  fs.mkdirSync(s.logDir, { recursive: true });
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    TEMPORAL_ADDRESS: s.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    INTAKE_TASK_QUEUE: s.taskQueue,
    DATABASE_URL: s.databaseUrl,
    // Unused with DATABASE_URL set, but kept inside the run's folder so it is removed with it.
    INTAKE_DATA_DIR: fs.mkdtempSync(path.join(s.logDir, 'data-')),
    MAILGUN_SIGNING_KEY: BENCH_MAILGUN_KEY,
    INTAKE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
    // Off: the default 9464 is one port for the whole machine, and a worker of another run (or
    // of anyone else) holding it made the chaos worker exit with EADDRINUSE.
    INTAKE_WORKER_METRICS_PORT: '0',
    ...s.env,
  };
}

/** A fresh task queue name. */
export const taskQueue = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** `intake api` as a child process on a free port; resolves once /healthz answers. */
export async function startApiProcess(
  s: IntakeSetup,
  name = 'intake-api',
  port?: number,
): Promise<{ child: Child; url: string; port: number }> {
  const p = port ?? (await freePort());
  const clustered = (s.apiProcesses ?? 1) > 1;
  const child = spawnTs({
    name,
    script: clustered ? 'bench/scenarios/api-cluster.ts' : 'src/cli/main.ts',
    args: clustered ? [] : ['api'],
    nodeArgs: s.apiNodeArgs,
    env: { ...intakeEnv(s, p), BENCH_API_PROCESSES: String(s.apiProcesses ?? 1) },
    logDir: s.logDir,
  });
  const url = `http://127.0.0.1:${p}`;
  await waitForHttp(`${url}/healthz`, 60_000, child);
  return { child, url, port: p };
}

/**
 * `intake dev` as a child process: its own Temporal dev server (on a free port; the setup's address
 * is not used), the API and a worker in one process, on the setup's database. For what only a
 * process running both can do (eager workflow start). Resolves once the API answers.
 */
export async function startDevProcess(
  s: IntakeSetup,
  name = 'intake-dev',
): Promise<{ child: Child; url: string; port: number }> {
  const p = await freePort();
  const temporalPort = await freePort();
  const child = spawnTs({
    name,
    script: 'src/cli/main.ts',
    args: ['dev'],
    env: {
      ...intakeEnv({ ...s, temporalAddress: `127.0.0.1:${temporalPort}` }, p),
      NODE_ENV: 'development',
      TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH,
    },
    logDir: s.logDir,
  });
  const url = `http://127.0.0.1:${p}`;
  await waitForHttp(`${url}/healthz`, 120_000, child);
  return { child, url, port: p };
}

/** `intake worker` as a child process; resolves once it logged that it polls. */
export async function startWorkerProcess(s: IntakeSetup, name = 'intake-worker'): Promise<Child> {
  const logFile = path.join(s.logDir, `${name}.log`);
  const size = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const child = spawnTs({
    name,
    script: 'src/cli/main.ts',
    args: ['worker'],
    env: intakeEnv(s),
    logDir: s.logDir,
  });
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`${name} exited early; see ${child.logFile}`);
    }
    const text = fs.readFileSync(child.logFile, 'utf8').slice(size);
    if (text.includes('intake worker polling')) return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  // Not left behind polling whatever server takes the address next.
  await child.stop();
  throw new Error(`${name} did not start polling within 120 s; see ${child.logFile}`);
}

/**
 * Bundles workflows/ once into `dir` and returns INTAKE_WORKFLOW_BUNDLE for the workers, as a
 * production deployment does (`npm run build`): a restarted worker then polls within seconds
 * instead of running webpack again.
 */
export async function prebuiltBundleEnv(dir: string): Promise<Record<string, string>> {
  const { plain } = await writeWorkflowBundles(path.join(dir, 'workflow-bundle.js'), {
    quiet: true,
    only: 'plain',
  });
  return { INTAKE_WORKFLOW_BUNDLE: plain };
}
