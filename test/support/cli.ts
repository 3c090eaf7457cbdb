import { execFile } from 'node:child_process';
import path from 'node:path';
import type { Config } from '../../src/config';

const root = path.resolve(__dirname, '../..');

/** What a finished child process printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment the Intake CLI needs: the admin API it sends operator requests to (the harness
 * sets `apiUrl` to its API's real address) with its admin token, and the same Temporal namespace
 * and task queue for the commands that run processes.
 */
export function cliEnv(config: Config): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    INTAKE_API_URL: config.apiUrl,
    ...(config.adminToken ? { INTAKE_ADMIN_TOKEN: config.adminToken } : {}),
    TEMPORAL_ADDRESS: config.temporal.address,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    INTAKE_TASK_QUEUE: config.temporal.taskQueue,
    LOG_LEVEL: 'warn',
  };
}

/** Runs a program and resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: root, env, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

/** The real Intake CLI (`tsx src/cli/main.ts …`, what `npx tsx` runs) as a child process. */
export function intakeCli(config: Config, args: string[]): Promise<CliResult> {
  return run(path.join(root, 'node_modules', '.bin', 'tsx'), ['src/cli/main.ts', ...args], cliEnv(config));
}
