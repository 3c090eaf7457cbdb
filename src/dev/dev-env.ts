import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { devSecretVariables } from './dev-secrets';

/**
 * Where the last `intake dev` on a data dir listens (INTAKE_API_URL, TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, INTAKE_TASK_QUEUE), kept next to dev-secrets.json so that `intake env` can
 * hand a second terminal the same settings, ports moved with PORT or TEMPORAL_ADDRESS included.
 */
const endpointsSchema = z.record(z.string(), z.string());

function endpointsFile(dataDir: string): string {
  return path.join(dataDir, 'dev-endpoints.json');
}

/** Records where `intake dev` listens (written once it is running). */
export function writeDevEndpoints(dataDir: string, vars: Record<string, string>): void {
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(endpointsFile(dataDir), JSON.stringify(vars, null, 2) + '\n');
}

function readDevEndpoints(dataDir: string): Record<string, string> {
  try {
    return endpointsSchema.parse(JSON.parse(fs.readFileSync(endpointsFile(dataDir), 'utf8')));
  } catch {
    return {};
  }
}

/**
 * The development environment of a data dir: where `intake dev` listens and the secrets it
 * generated, by variable name; undefined when `intake dev` never ran on it.
 */
export function devEnvironment(dataDir: string): Record<string, string> | undefined {
  const secrets = devSecretVariables(dataDir);
  if (!secrets) return undefined;
  return { ...readDevEndpoints(dataDir), ...secrets };
}

/** A POSIX shell word for `value` (single-quoted unless plainly safe). */
function shellWord(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export A=… B=…` for `eval "$(npx intake env)"`; names that are not shell variables are skipped. */
export function shellExports(vars: Record<string, string>): string {
  const words = Object.entries(vars)
    .filter(([name]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    .map(([name, value]) => `${name}=${shellWord(value)}`);
  return words.length ? `export ${words.join(' ')}` : '';
}
