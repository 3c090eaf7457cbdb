import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from './config';

const devSecretsSchema = z.object({
  mailgunSigningKey: z.string(),
  partnerSecrets: z.record(z.string(), z.string()),
  adminToken: z.string(),
});

/** Secrets `intake dev` generated because none were given; kept in INTAKE_DATA_DIR. */
export type DevSecrets = z.infer<typeof devSecretsSchema>;

/** Which settings were filled from generated development secrets. */
export interface DevSecretsApplied {
  config: Config;
  generated: { variable: string; value: string }[];
}

function file(dataDir: string) {
  return path.join(dataDir, 'dev-secrets.json');
}

/** Reads the dev secrets file, if any. */
export function readDevSecrets(dataDir: string): DevSecrets | undefined {
  try {
    return devSecretsSchema.parse(JSON.parse(fs.readFileSync(file(dataDir), 'utf8')));
  } catch {
    return undefined;
  }
}

/** Reads or creates (mode 0600) the dev secrets for this data dir. */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const existing = readDevSecrets(dataDir);
  if (existing) return existing;
  const secrets: DevSecrets = {
    mailgunSigningKey: randomBytes(24).toString('hex'),
    partnerSecrets: { acme: 'whsec_' + randomBytes(24).toString('base64') },
    adminToken: randomBytes(24).toString('base64url'),
  };
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file(dataDir), JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  return secrets;
}

/** Fills every secret the environment did not give from `secrets` (development only). */
export function applyDevSecrets(config: Config, secrets: DevSecrets): DevSecretsApplied {
  const generated: DevSecretsApplied['generated'] = [];
  const next: Config = { ...config, mailgun: { ...config.mailgun }, partners: new Map(config.partners) };
  if (!next.mailgun.signingKey) {
    next.mailgun.signingKey = secrets.mailgunSigningKey;
    generated.push({ variable: 'MAILGUN_SIGNING_KEY', value: secrets.mailgunSigningKey });
  }
  if (next.partners.size === 0) {
    for (const [partner, secret] of Object.entries(secrets.partnerSecrets))
      next.partners.set(partner, [secret]);
    generated.push({
      variable: 'INTAKE_PARTNER_SECRETS',
      value: Object.entries(secrets.partnerSecrets)
        .map(([p, s]) => `${p}=${s}`)
        .join(','),
    });
  }
  if (!next.adminToken) {
    next.adminToken = secrets.adminToken;
    generated.push({ variable: 'INTAKE_ADMIN_TOKEN', value: secrets.adminToken });
  }
  return { config: next, generated };
}
