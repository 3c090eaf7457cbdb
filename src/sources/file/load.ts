import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { Webhook } from 'standardwebhooks';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../../errors';
import { presets } from '../presets';
import { fileSource, type FileSourceDefinition, type FileSourceSpec } from './file-source';
import { parseTemplate, TemplateError, type HmacScheme } from './hmac';
import { entrySchema, sourcesFileSchema, type SourcesFileEntry } from './schema';

/** The variable naming the sources file. */
export const SOURCES_FILE_VARIABLE = 'INTAKE_SOURCES_FILE';

/** A problem in the sources file: names the file, the entry and the field. */
function fileError(file: string, entry: string | undefined, field: string | undefined, reason: string) {
  const at = [entry, field].filter(Boolean).join(', field ');
  return new ConfigError(SOURCES_FILE_VARIABLE, `${file}: ${at ? `${at}: ` : ''}${reason}`);
}

/** `entry 2 ("acme-erp")`, by index and, when it has one, name. */
function entryLabel(index: number, raw: unknown): string {
  const name = (raw as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? `entry ${index} ("${name}")` : `entry ${index}`;
}

const fieldOf = (issue: z.core.$ZodIssue) => issue.path.map(String).join('.') || '(entry)';

/** Reads YAML (or JSON, which is YAML) from `file`. */
function readDocument(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw fileError(
      file,
      undefined,
      undefined,
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw fileError(
      file,
      undefined,
      undefined,
      `is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
}

/** Options of {@link loadSourcesFile}. */
export interface LoadSourcesOptions {
  /** The environment the secrets are read from (config passes the one it parses). */
  env: NodeJS.ProcessEnv;
  /** Names already taken (the code sources): a file entry may not reuse them. */
  reserved: readonly string[];
}

/**
 * Reads, validates and resolves the sources file once, at start-up: every entry's preset merged with
 * its overrides, its secrets read from the environment, its template parsed and its JSON Schema
 * compiled. Throws ConfigError naming the file, the entry and the field, or the missing variable.
 */
export function loadSourcesFile(file: string, opts: LoadSourcesOptions): FileSourceDefinition[] {
  const doc = sourcesFileSchema.safeParse(readDocument(file));
  if (!doc.success)
    throw fileError(file, undefined, fieldOf(doc.error.issues[0]!), doc.error.issues[0]!.message);
  const out: FileSourceDefinition[] = [];
  const taken = new Set(opts.reserved);
  doc.data.sources.forEach((raw, index) => {
    const label = entryLabel(index, raw);
    const parsed = entrySchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw fileError(file, label, fieldOf(issue), issue.message);
    }
    const entry = parsed.data;
    if (taken.has(entry.name))
      throw fileError(file, label, 'name', `"${entry.name}" is already a source (names must be unique)`);
    taken.add(entry.name);
    const spec = resolveEntry(entry, { file, label, env: opts.env });
    out.push(fileSource(spec));
  });
  return out;
}

interface EntryContext {
  file: string;
  label: string;
  env: NodeJS.ProcessEnv;
}

/** An environment variable the entry names; a missing one stops start-up naming it. */
function secretOf(variable: string, field: string, ctx: EntryContext): string {
  const value = ctx.env[variable];
  if (value === undefined || value === '')
    throw new ConfigError(variable, `is required by ${ctx.label} of ${ctx.file} (${field}) and is not set`);
  return value;
}

/** The entry's verification secrets (checked base64 where the scheme needs it) and its delivery secret. */
function secretsOf(
  entry: SourcesFileEntry,
  ctx: EntryContext,
  library: FileSourceSpec['library'],
  hmac: HmacScheme,
): { secrets: FileSourceSpec['secrets']; deliverSecret: string } {
  const secrets = entry.secrets.map((variable, i) => ({
    variable,
    value: secretOf(variable, `secrets[${i}]`, ctx),
  }));
  if (library === 'standardwebhooks' || hmac.secretEncoding === 'base64')
    for (const s of secrets)
      if (!/^(whsec_)?[A-Za-z0-9+/]+={0,2}$/.test(s.value))
        throw new ConfigError(
          s.variable,
          `must be a base64 secret (whsec_…) for ${ctx.label} of ${ctx.file}`,
        );
  const deliverSecret = secretOf(entry.deliver.secret, 'deliver.secret', ctx);
  try {
    new Webhook(deliverSecret);
  } catch {
    throw new ConfigError(
      entry.deliver.secret,
      `must be a Standard Webhooks secret (whsec_<base64>) for ${ctx.label} of ${ctx.file}`,
    );
  }
  return { secrets, deliverSecret };
}

/** Preset merged with the entry's overrides, checked complete; secrets, template and schema resolved. */
function resolveEntry(entry: SourcesFileEntry, ctx: EntryContext): FileSourceSpec {
  const err = (field: string, reason: string) => fileError(ctx.file, ctx.label, field, reason);
  const preset = entry.preset === undefined ? undefined : presets.get(entry.preset);
  if (entry.preset !== undefined && !preset)
    throw err('preset', `unknown preset "${entry.preset}" (known: ${[...presets.keys()].join(', ')})`);
  const overrides = entry.verify?.hmac ?? {};
  if (!preset && !entry.verify) throw err('verify', 'is required without a preset (verify: { hmac: … })');
  const hmac = { signedContent: '{body}', ...preset?.hmac, ...overrides } as HmacScheme;
  if (!hmac.algorithm) throw err('verify.hmac.algorithm', 'is required (sha1 | sha256 | sha512)');
  if (!hmac.encoding) throw err('verify.hmac.encoding', 'is required (hex | base64 | base64url)');
  if (!hmac.header && !hmac.signatureJsonPointer) throw err('verify.hmac.header', 'is required');
  let template;
  try {
    template = parseTemplate(hmac.signedContent);
  } catch (e) {
    if (e instanceof TemplateError) throw err('verify.hmac.signedContent', e.message);
    throw e;
  }
  const hasTimestamp = !!hmac.timestampHeader || !!hmac.timestampJsonPointer;
  if (template.some((p) => p.kind === 'timestamp') && !hasTimestamp)
    throw err('verify.hmac.signedContent', '{timestamp} needs verify.hmac.timestampHeader');
  if (hmac.toleranceS !== undefined && !hasTimestamp)
    throw err('verify.hmac.toleranceS', 'needs verify.hmac.timestampHeader');
  const eventId = entry.eventId ?? preset?.eventId;
  const eventType = entry.eventType ?? preset?.eventType;
  if (!eventId)
    throw err('eventId', 'is required without a preset ({ header: Name } or { jsonPointer: /id })');
  if (!eventType)
    throw err('eventType', 'is required without a preset ({ header: Name } or { jsonPointer: /type })');
  const library = preset?.library && Object.keys(overrides).length === 0 ? preset.library : undefined;
  const { secrets, deliverSecret } = secretsOf(entry, ctx, library, hmac);
  return {
    name: entry.name,
    preset,
    hmac,
    template,
    library,
    secrets,
    eventId,
    eventType,
    entity: entry.entity ?? preset?.entity,
    successCode: entry.successCode ?? preset?.successCode ?? 200,
    answer: preset?.answer,
    tokenBinding: preset?.tokenBinding,
    validate: entry.schema ? compileSchema(entry.schema, ctx) : undefined,
    deliver: {
      url: entry.deliver.url,
      secret: deliverSecret,
      secretVariable: entry.deliver.secret,
      timeoutMs: entry.deliver.timeoutMs,
    },
  };
}

/** The entry's JSON Schema (path relative to the sources file), compiled as draft 2020-12. */
function compileSchema(schemaPath: string, ctx: EntryContext) {
  const file = path.resolve(path.dirname(ctx.file), schemaPath);
  let schema: unknown;
  try {
    schema = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw fileError(
      ctx.file,
      ctx.label,
      'schema',
      `${file} is not a readable JSON file (${(e as Error).message.split('\n')[0]})`,
    );
  }
  try {
    return new Ajv2020({ allErrors: true, strict: false }).compile(schema as object);
  } catch (e) {
    throw fileError(
      ctx.file,
      ctx.label,
      'schema',
      `${file} is not a valid JSON Schema: ${(e as Error).message}`,
    );
  }
}
