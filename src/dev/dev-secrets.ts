import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors';
import type { Config } from '../config';
import type { AnySource } from '../sources/types';

const devSecretsSchema = z.object({
  adminToken: z.string(),
  /** Each source's generated variables (Source.devSecrets), e.g. its signing key. */
  env: z.record(z.string(), z.string()).default({}),
});

/** Secrets `intake dev` generated because none were given; kept in INTAKE_DATA_DIR. */
export type DevSecrets = z.infer<typeof devSecretsSchema>;

/**
 * The file: the variables by the names the README, the start banner and `intake env` use
 * (`{"INTAKE_ADMIN_TOKEN": …, "<a source secret variable>": …}`). Files written before issue 19 keep the
 * admin token as `adminToken` and the rest under `env`; they are read and rewritten in the new form.
 */
const fileSchema = z.union([
  z
    .record(z.string(), z.string())
    .refine((r) => typeof r.INTAKE_ADMIN_TOKEN === 'string')
    .transform(({ INTAKE_ADMIN_TOKEN, ...env }) => ({ adminToken: INTAKE_ADMIN_TOKEN!, env, legacy: false })),
  devSecretsSchema.transform((s) => ({ ...s, legacy: true })),
]);

function toFile(secrets: DevSecrets): Record<string, string> {
  return { INTAKE_ADMIN_TOKEN: secrets.adminToken, ...secrets.env };
}

/** Which settings were filled from generated development secrets. */
export interface DevSecretsApplied {
  config: Config;
  generated: { variable: string; value: string }[];
}

function file(dataDir: string) {
  return path.join(dataDir, 'dev-secrets.json');
}

function readFile(dataDir: string): (DevSecrets & { legacy: boolean }) | undefined {
  try {
    return fileSchema.parse(JSON.parse(fs.readFileSync(file(dataDir), 'utf8')));
  } catch {
    return undefined;
  }
}

/** Reads the dev secrets file, if any. */
export function readDevSecrets(dataDir: string): DevSecrets | undefined {
  const read = readFile(dataDir);
  return read && { adminToken: read.adminToken, env: read.env };
}

/**
 * The dev secrets file's variables by name (INTAKE_ADMIN_TOKEN first), for `intake env`; undefined
 * when this data dir has none.
 */
export function devSecretVariables(dataDir: string): Record<string, string> | undefined {
  const secrets = readDevSecrets(dataDir);
  return secrets && toFile(secrets);
}

/**
 * Reads or creates (mode 0600) the dev secrets for this data dir. A source registered after the
 * file was written gets its secrets generated and added.
 */
export function loadOrCreateDevSecrets(dataDir: string, sources: readonly AnySource[]): DevSecrets {
  const existing = readFile(dataDir);
  const secrets: DevSecrets = existing
    ? { adminToken: existing.adminToken, env: existing.env }
    : { adminToken: randomBytes(24).toString('base64url'), env: {} };
  let changed = !existing || existing.legacy;
  for (const source of sources) {
    if (Object.keys(source.env).some((v) => secrets.env[v] !== undefined)) continue;
    Object.assign(secrets.env, source.devSecrets());
    changed = true;
  }
  if (changed) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file(dataDir), JSON.stringify(toFile(secrets), null, 2) + '\n', { mode: 0o600 });
  }
  return secrets;
}

/**
 * Fills every secret the environment did not give from `secrets` (development only): a source
 * without its secrets gets the settings parsed from its generated variables.
 */
export function applyDevSecrets(config: Config, secrets: DevSecrets): DevSecretsApplied {
  const generated: DevSecretsApplied['generated'] = [];
  const next: Config = { ...config, sources: { ...config.sources } };
  for (const source of config.registry.all) {
    if (source.configured.hasSecrets(config)) continue;
    const env = Object.fromEntries(Object.keys(source.env).map((v) => [v, secrets.env[v]]));
    if (Object.values(env).every((v) => v === undefined)) continue;
    const parsed = z.object(source.env).safeParse(env);
    if (!parsed.success) throw new ConfigError(source.secretVariable, 'the generated dev secret is invalid');
    next.sources[source.name] = source.settings(parsed.data);
    for (const [variable, value] of Object.entries(env))
      if (value !== undefined) generated.push({ variable, value });
  }
  if (!next.adminToken) {
    next.adminToken = secrets.adminToken;
    generated.push({ variable: 'INTAKE_ADMIN_TOKEN', value: secrets.adminToken });
  }
  return { config: next, generated };
}
