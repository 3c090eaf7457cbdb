import path from 'node:path';
import { z } from 'zod';
import { emptyToUndefined, hostPortString, intString, optionalString, stringWithDefault } from './env-values';
import { ConfigError } from '../errors';
import { parseFailpoints, type Failpoint } from '../worker/failpoints';
import { loadSourcesFile } from '../sources/file/load';
import { buildRegistry, codeSources, type SourceRegistry } from '../sources/registry';
import type { AnySource } from '../sources/types';
import { parseEncryptionKeys, type EncryptionKey } from '../temporal/encryption-codec';

/**
 * The one place that reads the environment. Every setting is parsed with zod once, at start-up,
 * and an invalid or missing value stops the process with a message naming the variable.
 */

/** OTLP over HTTP only: gRPC would pull in a second transport for no gain (collectors take both). */
const otlpProtocol = (name: string) =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['http/protobuf', 'http/json'], {
        message: `${name} must be http/protobuf or http/json (Intake exports OTLP over HTTP)`,
      })
      .optional(),
  );

/** A source's name (see src/sources/registry.ts). */
export type SourceName = string;

/**
 * `<source>=50,<other>=10`: handler activities per second, per source, across all workers.
 * A source may appear once; rates are positive numbers (0.5 = one every two seconds). File sources
 * are sources: their deliveries are limited the same way.
 */
export function parseRateLimits(
  raw: string | undefined,
  registry: Pick<SourceRegistry, 'names'> = buildRegistry(),
): Map<SourceName, number> {
  const names = registry.names();
  const knownSources = () => names.join(', ');
  const isSourceName = (name: string) => names.includes(name);
  const out = new Map<SourceName, number>();
  if (!raw) return out;
  for (const entry of raw.split(',')) {
    const trimmed = entry.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf('=');
    const source = trimmed.slice(0, eq).trim();
    const rate = Number(trimmed.slice(eq + 1).trim());
    if (eq <= 0) throw new ConfigError('INTAKE_RATE_LIMITS', 'expected source=activities-per-second pairs');
    if (!isSourceName(source)) {
      throw new ConfigError('INTAKE_RATE_LIMITS', `unknown source "${source}" (known: ${knownSources()})`);
    }
    if (out.has(source as SourceName))
      throw new ConfigError('INTAKE_RATE_LIMITS', `"${source}" is listed twice`);
    if (!Number.isFinite(rate) || rate <= 0) {
      throw new ConfigError('INTAKE_RATE_LIMITS', `the rate for "${source}" must be a positive number`);
    }
    out.set(source as SourceName, rate);
  }
  return out;
}

/**
 * The largest INTAKE_OFFLOAD_THRESHOLD_BYTES: an inline payload of this size, with the encryption
 * codec's envelope and the rest of the workflow input, stays under Temporal's default 2 MiB blob
 * limit, so every input Intake builds can be started.
 */
export const MAX_INLINE_PAYLOAD_BYTES = 1536 * 1024;

const envSchema = z.object({
  PORT: intString('PORT', 3000, 0),
  HOST: optionalString,
  NODE_ENV: optionalString,
  TEMPORAL_ADDRESS: hostPortString('TEMPORAL_ADDRESS', '127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: stringWithDefault('default'),
  TEMPORAL_CLI_PATH: optionalString,
  TCTL_PATH: optionalString,
  INTAKE_TASK_QUEUE: stringWithDefault('intake'),
  DATABASE_URL: optionalString,
  INTAKE_DATA_DIR: stringWithDefault('./data'),
  INTAKE_ADMIN_TOKEN: optionalString,
  INTAKE_READ_TOKEN: optionalString,
  INTAKE_API_URL: optionalString,
  INTAKE_SOURCES: optionalString,
  INTAKE_SOURCES_FILE: optionalString,
  INTAKE_SIGNATURE_TOLERANCE_S: intString('INTAKE_SIGNATURE_TOLERANCE_S', 300, 1),
  INTAKE_MAX_BODY_BYTES: intString('INTAKE_MAX_BODY_BYTES', 1024 * 1024, 1),
  INTAKE_RETRY_MAX_ATTEMPTS: intString('INTAKE_RETRY_MAX_ATTEMPTS', 10, 1),
  INTAKE_RETRY_INITIAL_INTERVAL_MS: intString('INTAKE_RETRY_INITIAL_INTERVAL_MS', 1000, 1),
  INTAKE_RETRY_MAX_INTERVAL_MS: intString('INTAKE_RETRY_MAX_INTERVAL_MS', 300_000, 1),
  INTAKE_ACTIVITY_TIMEOUT_MS: intString('INTAKE_ACTIVITY_TIMEOUT_MS', 60_000, 1),
  INTAKE_ACTIVITY_HEARTBEAT_TIMEOUT_MS: intString('INTAKE_ACTIVITY_HEARTBEAT_TIMEOUT_MS', 10_000, 1000),
  INTAKE_START_TIMEOUT_MS: intString('INTAKE_START_TIMEOUT_MS', 5_000, 100),
  INTAKE_MAX_INFLIGHT_STARTS: intString('INTAKE_MAX_INFLIGHT_STARTS', 64, 1),
  INTAKE_SPOOL_MAX_DEPTH: intString('INTAKE_SPOOL_MAX_DEPTH', 100_000, 0),
  INTAKE_FAILPOINTS: optionalString,
  INTAKE_ENCRYPTION_KEYS: optionalString,
  INTAKE_CODEC_CORS_ORIGINS: optionalString,
  INTAKE_WORKER_MAX_ACTIVITIES: intString('INTAKE_WORKER_MAX_ACTIVITIES', 100, 1),
  INTAKE_WORKER_MAX_POLLERS: intString('INTAKE_WORKER_MAX_POLLERS', 50, 2),
  INTAKE_EAGER_START: z.stringbool({ error: 'INTAKE_EAGER_START must be true or false' }).default(true),
  INTAKE_WORKER_METRICS_PORT: z.coerce
    .number({ message: 'INTAKE_WORKER_METRICS_PORT must be a number' })
    .int('INTAKE_WORKER_METRICS_PORT must be a whole number')
    .min(0, 'INTAKE_WORKER_METRICS_PORT must be at least 0')
    .max(65535, 'INTAKE_WORKER_METRICS_PORT must be at most 65535')
    .default(9464),
  // At most 1.5 MiB: an inline payload must stay under Temporal's 2 MiB blob limit with its codec
  // envelope and the rest of the workflow input.
  INTAKE_OFFLOAD_THRESHOLD_BYTES: intString(
    'INTAKE_OFFLOAD_THRESHOLD_BYTES',
    128 * 1024,
    1024,
    MAX_INLINE_PAYLOAD_BYTES,
  ),
  INTAKE_QUARANTINE_MAX_ROWS: intString('INTAKE_QUARANTINE_MAX_ROWS', 10_000, 1),
  INTAKE_QUARANTINE_MAX_BYTES: intString('INTAKE_QUARANTINE_MAX_BYTES', 256 * 1024 * 1024, 1024),
  INTAKE_STORE_TIMEOUT_MS: intString('INTAKE_STORE_TIMEOUT_MS', 5_000, 100),
  INTAKE_ARCHIVE_RETENTION_DAYS: intString('INTAKE_ARCHIVE_RETENTION_DAYS', 30, 1),
  INTAKE_RATE_LIMITS: optionalString,
  INTAKE_WORKFLOW_BUNDLE: optionalString,
  INTAKE_SHUTDOWN_GRACE_S: intString('INTAKE_SHUTDOWN_GRACE_S', 25, 0),
  INTAKE_HTTP_KEEPALIVE_TIMEOUT_MS: intString('INTAKE_HTTP_KEEPALIVE_TIMEOUT_MS', 65_000, 1000),
  INTAKE_HTTP_HEADERS_TIMEOUT_MS: intString('INTAKE_HTTP_HEADERS_TIMEOUT_MS', 10_000, 100),
  INTAKE_HTTP_BODY_TIMEOUT_MS: intString('INTAKE_HTTP_BODY_TIMEOUT_MS', 5_000, 100),
  INTAKE_HTTP_REQUEST_TIMEOUT_MS: intString('INTAKE_HTTP_REQUEST_TIMEOUT_MS', 30_000, 100),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  // The standard OpenTelemetry variables that decide whether Intake traces and where to; the SDK
  // reads the rest of OTEL_* (headers, sampler, batching, resource) itself.
  OTEL_SDK_DISABLED: optionalString,
  OTEL_TRACES_EXPORTER: optionalString,
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(
    emptyToUndefined,
    z.url({ message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be a URL' }).optional(),
  ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.preprocess(
    emptyToUndefined,
    z.url({ message: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be a URL' }).optional(),
  ),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol('OTEL_EXPORTER_OTLP_PROTOCOL'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'),
});

/** The parsed, validated configuration. */
export interface Config {
  /** HTTP port of the API; 0 picks a free one. Default 3000. */
  port: number;
  /** Interface the API binds to. Default 0.0.0.0. */
  host: string;
  /**
   * Interface `intake dev` binds its API to: HOST when set, else 127.0.0.1, so a development
   * machine does not offer its (token-less) codec endpoint or generated data to the network.
   */
  devHost: string;
  /** `production` turns on the strict start-up checks (admin token required). */
  production: boolean;
  temporal: {
    /** host:port of the Temporal frontend. Default 127.0.0.1:7233. */
    address: string;
    namespace: string;
    /** Task queue shared by API (starts) and workers (polls). Default `intake`. */
    taskQueue: string;
    /** Explicit path to the `temporal` CLI, first in the lookup order. */
    cliPath?: string;
    /** Explicit path to `tctl` (TCTL_PATH), first in its lookup order (scripts/ensure-tctl.ts). */
    tctlPath?: string;
    /** How long the API waits for Temporal to persist a start before spooling the event (or 503). */
    startTimeoutMs: number;
    /** The environment handed to @temporalio/envconfig (API key, TLS, profile settings). */
    env: Record<string, string>;
  };
  /** PostgreSQL URL; undefined means the embedded PGlite store under dataDir. */
  databaseUrl?: string;
  /** Where the embedded server, store and generated dev secrets live. Default ./data. */
  dataDir: string;
  /** Bearer token for admin routes (and the read routes); required in production, 32+ characters. */
  adminToken?: string;
  /**
   * Read-only bearer token (INTAKE_READ_TOKEN) for the read routes `GET /messages/:messageId` and
   * `GET /customers/:partner/:id`, for business services that show processed data; it opens no
   * admin route. Optional; at least 32 characters in production.
   */
  readToken?: string;
  /** Base URL of the API for the CLI (`intake send`). Default http://127.0.0.1:$PORT. */
  apiUrl: string;
  /**
   * Every source of this process: the code sources plus those of INTAKE_SOURCES_FILE, built once
   * here and handed down with the config to the API, the worker and the CLI.
   */
  registry: SourceRegistry;
  /** INTAKE_SOURCES_FILE, resolved; undefined when no sources file is used. */
  sourcesFile?: string;
  /**
   * Each source's settings (its secrets), keyed by source name, parsed from the variables the
   * source declares (Source.env); read them with `settingsOf(config, source)`.
   */
  sources: Record<SourceName, unknown>;
  /** Sources explicitly enabled with INTAKE_SOURCES; undefined = those with secrets. */
  enabledSources?: SourceName[];
  /** Allowed clock skew for signed timestamps, seconds. Default 300. */
  signatureToleranceS: number;
  /** Largest accepted body, bytes. Default 1 MiB. */
  maxBodyBytes: number;
  retry: {
    /** Attempts per round before the event parks. Default 10. */
    maxAttempts: number;
    initialIntervalMs: number;
    maxIntervalMs: number;
  };
  /** startToClose timeout of one handler attempt. Default 60 s. */
  activityTimeoutMs: number;
  /**
   * Heartbeat timeout of a regular (fallback) handler attempt (INTAKE_ACTIVITY_HEARTBEAT_TIMEOUT_MS,
   * default 10 s, at most activityTimeoutMs). The handler heartbeats while it works, so an attempt
   * that no live worker runs (its worker died, or the task never reached one) is retried after
   * this, not after the whole activity timeout.
   */
  activityHeartbeatTimeoutMs: number;
  /**
   * Workflow starts one API process keeps in flight (INTAKE_MAX_INFLIGHT_STARTS, default 64); more
   * requests wait for a slot until their start deadline, then get 503 without reaching Temporal.
   */
  maxInflightStarts: number;
  /**
   * Events the start spool may hold (INTAKE_SPOOL_MAX_DEPTH, default 100000). While Temporal cannot
   * persist a start in time, or the in-flight start bound is full, the API writes the event to the
   * spool in the store and acknowledges it; past this depth it answers 503 + Retry-After instead.
   * 0 turns the spool off (every such event gets 503).
   */
  spoolMaxDepth: number;
  /** Concurrent activity executions per worker. Default 100. */
  workerMaxActivities: number;
  /** Upper bound of the autoscaling task pollers (workflow and activity each). Default 50. */
  workerMaxPollers: number;
  /**
   * `intake dev` only (INTAKE_EAGER_START, default true): the API's client shares the in-process
   * worker's connection and asks Temporal for eager workflow start, so the first workflow task
   * (with local-first, the whole event) comes back in the start's answer instead of through the
   * task queue. `intake api` has no worker in its process and never starts eagerly.
   */
  eagerStart: boolean;
  /**
   * Port of `intake worker`'s Prometheus endpoint (INTAKE_WORKER_METRICS_PORT), on HOST. Default
   * 9464; 0 turns worker metrics off. `GET /metrics` there serves Intake's worker series
   * (intake_handler_attempts_total, intake_events_processed_total, intake_events_parked_total)
   * followed by the Temporal SDK's own `temporal_…` series, which Core exports on a loopback port
   * picked at start and the endpoint merges in: one scrape target per worker. Several workers on
   * one host need distinct ports.
   */
  workerMetricsPort: number;
  /**
   * Serialized payloads larger than this (bytes) are kept in the store and the workflow gets a
   * reference (claim check), so histories stay small. Default 128 KiB; at least 1024.
   */
  offloadThresholdBytes: number;
  /**
   * Days an accepted event's payload and metadata stay in the store's archive (INTAKE_ARCHIVE_RETENTION_DAYS,
   * default 30), whatever Temporal's retention: `GET /events/:id`, deduplication and replay work
   * that long after the workflow was deleted.
   */
  archiveRetentionDays: number;
  /**
   * Per-source caps of the quarantine of signed, schema-refused requests: rows
   * (INTAKE_QUARANTINE_MAX_ROWS, default 10000) and stored body bytes (INTAKE_QUARANTINE_MAX_BYTES,
   * default 256 MiB). Past either, such a request is answered 429 with Retry-After and nothing is
   * stored, so one captured signature cannot fill the volume.
   */
  quarantine: { maxRows: number; maxBytes: number };
  /**
   * Longest wait for the store on the ingest path (INTAKE_STORE_TIMEOUT_MS, default 5000): a frozen
   * or unreachable PostgreSQL is answered 503 with Retry-After after this, not after the client's
   * own timeout. The provider retries the 503.
   */
  storeTimeoutMs: number;
  /**
   * Handler activities per second by source (INTAKE_RATE_LIMITS). A limited source's activities
   * run on their own task queue `<INTAKE_TASK_QUEUE>-<source>`; empty = no limits.
   */
  rateLimits: Map<SourceName, number>;
  /**
   * Prebuilt workflow bundle to load (INTAKE_WORKFLOW_BUNDLE). Unset: the compiled build uses
   * dist/workflow-bundle.js when present; running from source always bundles workflows/ at start.
   */
  workflowBundle?: string;
  /**
   * Seconds a stopping process drains: in-flight HTTP requests (API) and running activities
   * (worker, shutdownGraceTime). Default 25, inside the usual 30 s stop timeout of orchestrators.
   */
  shutdownGraceS: number;
  /** Timeouts of the API's HTTP server (see the README, "HTTP timeouts"). */
  http: {
    /**
     * How long an idle keep-alive connection stays open (INTAKE_HTTP_KEEPALIVE_TIMEOUT_MS). Default
     * 65 s: longer than the idle timeout of the clients and load balancers in front (60 s on the
     * common ones), so the server is never the side that closes a connection a client is reusing.
     */
    keepAliveTimeoutMs: number;
    /** Time for the whole header section of a request (INTAKE_HTTP_HEADERS_TIMEOUT_MS). Default 10 s. */
    headersTimeoutMs: number;
    /** Longest silence while a body is read, then 408 (INTAKE_HTTP_BODY_TIMEOUT_MS). Default 5 s. */
    bodyTimeoutMs: number;
    /** Time for the whole request, headers and body (INTAKE_HTTP_REQUEST_TIMEOUT_MS). Default 30 s. */
    requestTimeoutMs: number;
  };
  /** INTAKE_FAILPOINTS, parsed (syntax in src/worker/failpoints.ts). Empty (off) by default. */
  failpoints: Failpoint[];
  /**
   * INTAKE_ENCRYPTION_KEYS, parsed: the first key encrypts, all decrypt (src/temporal/encryption-codec.ts).
   * Undefined (no payload encryption) when unset or empty.
   */
  encryptionKeys?: EncryptionKey[];
  /** Browser origins (the Temporal Web UI) allowed to call /codec (INTAKE_CODEC_CORS_ORIGINS). */
  codecCorsOrigins: string[];
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** OpenTelemetry tracing, from the standard OTEL_* variables (see src/platform/telemetry.ts). */
  tracing: {
    /**
     * Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else OTEL_EXPORTER_OTLP_ENDPOINT
     * + `/v1/traces` (the OTLP/HTTP rule). Undefined = tracing off: no endpoint set,
     * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
     */
    endpoint?: string;
    /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf. */
    protocol: 'http/protobuf' | 'http/json';
  };
  /** The environment handed to child processes (the Temporal CLI, go install): PATH, HOME, … */
  childEnv: NodeJS.ProcessEnv;
}

type Env = z.infer<typeof envSchema>;

/** Config.temporal; `env` keeps every TEMPORAL_* variable for @temporalio/envconfig and child processes. */
function temporalConfig(e: Env, env: NodeJS.ProcessEnv): Config['temporal'] {
  const temporalEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('TEMPORAL_') && v !== undefined) temporalEnv[k] = v;
  }
  temporalEnv.TEMPORAL_ADDRESS = e.TEMPORAL_ADDRESS;
  temporalEnv.TEMPORAL_NAMESPACE = e.TEMPORAL_NAMESPACE;
  return {
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.INTAKE_TASK_QUEUE,
    cliPath: e.TEMPORAL_CLI_PATH,
    tctlPath: e.TCTL_PATH,
    startTimeoutMs: e.INTAKE_START_TIMEOUT_MS,
    env: temporalEnv,
  };
}

/** Config.http; throws ConfigError when the header timeout exceeds the request timeout. */
function httpConfig(e: Env): Config['http'] {
  // Node refuses a header timeout longer than the request timeout (the headers are part of it).
  if (e.INTAKE_HTTP_HEADERS_TIMEOUT_MS > e.INTAKE_HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      'INTAKE_HTTP_HEADERS_TIMEOUT_MS',
      'must not exceed INTAKE_HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)',
    );
  }
  return {
    keepAliveTimeoutMs: e.INTAKE_HTTP_KEEPALIVE_TIMEOUT_MS,
    headersTimeoutMs: e.INTAKE_HTTP_HEADERS_TIMEOUT_MS,
    bodyTimeoutMs: e.INTAKE_HTTP_BODY_TIMEOUT_MS,
    requestTimeoutMs: e.INTAKE_HTTP_REQUEST_TIMEOUT_MS,
  };
}

/** Config.tracing from the standard OTEL_* variables. */
function tracingConfig(e: Env): Config['tracing'] {
  const off =
    e.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true' || e.OTEL_TRACES_EXPORTER?.trim() === 'none';
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT;
  return {
    endpoint: off
      ? undefined
      : (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
        (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined)),
    protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
  };
}

/** The environment parsed with `schema`, or a ConfigError naming the first invalid variable. */
function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(variable, issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/** The source registry (code sources plus INTAKE_SOURCES_FILE's), each source's settings and INTAKE_SOURCES. */
function sourcesConfig(
  e: z.infer<typeof envSchema>,
  env: NodeJS.ProcessEnv,
): Pick<Config, 'registry' | 'sourcesFile' | 'sources' | 'enabledSources'> {
  const sourcesFile = e.INTAKE_SOURCES_FILE ? path.resolve(e.INTAKE_SOURCES_FILE) : undefined;
  const registry = buildRegistry(
    sourcesFile ? loadSourcesFile(sourcesFile, { env, reserved: codeSources().map((s) => s.name) }) : [],
  );
  const sources = registry.all;
  const knownSources = () => registry.names().join(', ');
  const isSourceName = (name: string) => registry.find(name) !== undefined;
  // Each source's own variables (Source.env), parsed the same way and named the same way on error.
  const sourceEnv = parseEnv(z.object(Object.assign({}, ...sources.map((s) => s.env))), env);
  let enabledSources: SourceName[] | undefined;
  if (e.INTAKE_SOURCES) {
    enabledSources = [];
    for (const name of e.INTAKE_SOURCES.split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (!isSourceName(name)) {
        throw new ConfigError('INTAKE_SOURCES', `unknown source "${name}" (known: ${knownSources()})`);
      }
      enabledSources.push(name as SourceName);
    }
  }
  return {
    registry,
    sourcesFile,
    sources: Object.fromEntries(sources.map((s) => [s.name, s.settings(sourceEnv)])),
    enabledSources,
  };
}

/** Parses the environment (process.env unless given) into a Config, or throws ConfigError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(envSchema, env);
  const { registry, sourcesFile, sources, enabledSources } = sourcesConfig(e, env);
  return {
    port: e.PORT,
    host: e.HOST ?? '0.0.0.0',
    devHost: e.HOST ?? '127.0.0.1',
    production: e.NODE_ENV === 'production',
    temporal: temporalConfig(e, env),
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.INTAKE_DATA_DIR),
    adminToken: e.INTAKE_ADMIN_TOKEN,
    readToken: e.INTAKE_READ_TOKEN,
    apiUrl: e.INTAKE_API_URL ?? `http://127.0.0.1:${e.PORT || 3000}`,
    registry,
    sourcesFile,
    sources,
    enabledSources,
    signatureToleranceS: e.INTAKE_SIGNATURE_TOLERANCE_S,
    maxBodyBytes: e.INTAKE_MAX_BODY_BYTES,
    retry: {
      maxAttempts: e.INTAKE_RETRY_MAX_ATTEMPTS,
      initialIntervalMs: e.INTAKE_RETRY_INITIAL_INTERVAL_MS,
      maxIntervalMs: Math.max(e.INTAKE_RETRY_MAX_INTERVAL_MS, e.INTAKE_RETRY_INITIAL_INTERVAL_MS),
    },
    activityTimeoutMs: e.INTAKE_ACTIVITY_TIMEOUT_MS,
    activityHeartbeatTimeoutMs: Math.min(
      e.INTAKE_ACTIVITY_HEARTBEAT_TIMEOUT_MS,
      e.INTAKE_ACTIVITY_TIMEOUT_MS,
    ),
    maxInflightStarts: e.INTAKE_MAX_INFLIGHT_STARTS,
    spoolMaxDepth: e.INTAKE_SPOOL_MAX_DEPTH,
    workerMaxActivities: e.INTAKE_WORKER_MAX_ACTIVITIES,
    workerMaxPollers: e.INTAKE_WORKER_MAX_POLLERS,
    eagerStart: e.INTAKE_EAGER_START,
    workerMetricsPort: e.INTAKE_WORKER_METRICS_PORT,
    offloadThresholdBytes: e.INTAKE_OFFLOAD_THRESHOLD_BYTES,
    archiveRetentionDays: e.INTAKE_ARCHIVE_RETENTION_DAYS,
    quarantine: { maxRows: e.INTAKE_QUARANTINE_MAX_ROWS, maxBytes: e.INTAKE_QUARANTINE_MAX_BYTES },
    storeTimeoutMs: e.INTAKE_STORE_TIMEOUT_MS,
    rateLimits: parseRateLimits(e.INTAKE_RATE_LIMITS, registry),
    workflowBundle: e.INTAKE_WORKFLOW_BUNDLE ? path.resolve(e.INTAKE_WORKFLOW_BUNDLE) : undefined,
    shutdownGraceS: e.INTAKE_SHUTDOWN_GRACE_S,
    http: httpConfig(e),
    failpoints: parseFailpoints(e.INTAKE_FAILPOINTS),
    encryptionKeys: e.INTAKE_ENCRYPTION_KEYS ? parseEncryptionKeys(e.INTAKE_ENCRYPTION_KEYS) : undefined,
    codecCorsOrigins: (e.INTAKE_CODEC_CORS_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim().replace(/\/$/, ''))
      .filter(Boolean),
    logLevel: e.LOG_LEVEL,
    tracing: tracingConfig(e),
    childEnv: { ...env },
  };
}

/** Sources that are on: those listed in INTAKE_SOURCES, else those whose secrets are set. */
export function activeSources(config: Pick<Config, 'enabledSources' | 'sources' | 'registry'>): SourceName[] {
  if (config.enabledSources) return config.enabledSources;
  return config.registry.all.filter((s) => hasSecrets(config, s)).map((s) => s.name);
}

const hasSecrets = (config: Pick<Config, 'sources'>, source: AnySource) =>
  source.configured.hasSecrets(config);

/**
 * Whether `source` serves a request with these route parameters: it is on (activeSources), has its
 * secrets and accepts the parameters (e.g. a partner with a secret). Otherwise: 404 unknown_source.
 */
export function isServing(config: Config, source: AnySource, params: Record<string, string>): boolean {
  return (
    activeSources(config).includes(source.name) &&
    hasSecrets(config, source) &&
    source.configured.accepts(config, params)
  );
}

/**
 * The task queue a source's handler activities run on: `<INTAKE_TASK_QUEUE>-<source>` when the
 * source is rate limited (INTAKE_RATE_LIMITS), else undefined (the workflow's own queue). API and
 * workers must agree on INTAKE_RATE_LIMITS: the API routes by it, the workers poll by it.
 */
export function activityTaskQueueFor(config: Config, source: string): string | undefined {
  return config.rateLimits.has(source as SourceName) ? `${config.temporal.taskQueue}-${source}` : undefined;
}

/** Options of {@link assertServeable}. */
export interface ServeableOptions {
  /**
   * Require INTAKE_ADMIN_TOKEN in production. Default true (the API serves the admin routes);
   * `intake worker` passes false: it serves no HTTP, so the token would only spread a secret.
   */
  requireAdminToken?: boolean;
  /**
   * Require at least one source to be on. Default true (an API with no source accepts nothing);
   * `intake worker` passes false: it verifies no signature, so it needs no source secret, and it
   * processes whatever the API started. A source listed in INTAKE_SOURCES still needs its secret.
   */
  requireSource?: boolean;
}

/** Shortest bearer token production accepts: 32 characters (e.g. `openssl rand -hex 16`). */
export const MIN_PRODUCTION_TOKEN_LENGTH = 32;

/**
 * Start-up checks for the production processes: every enabled source has its secret, at least one
 * source is on, and (in production, for the API) the admin token is set; in production, bearer
 * tokens that are set must be at least MIN_PRODUCTION_TOKEN_LENGTH characters. Throws ConfigError
 * naming the variable.
 */
export function assertServeable(config: Config, opts: ServeableOptions = {}): void {
  const on = activeSources(config);
  const sources = config.registry.all;
  for (const source of sources) {
    if (on.includes(source.name) && !hasSecrets(config, source)) {
      throw new ConfigError(
        source.secretVariable,
        `is required because the ${source.name} source is enabled`,
      );
    }
  }
  if (on.length === 0 && opts.requireSource !== false) {
    const variables = sources.map((s) => s.secretVariable);
    throw new ConfigError(
      variables[0] ?? 'INTAKE_SOURCES',
      `no source is configured: set ${variables.join(' and/or ')}`,
    );
  }
  if (config.production && opts.requireAdminToken !== false && !config.adminToken) {
    throw new ConfigError('INTAKE_ADMIN_TOKEN', 'is required in production (NODE_ENV=production)');
  }
  if (config.production) {
    const tokens: [string, string | undefined][] = [
      ['INTAKE_ADMIN_TOKEN', config.adminToken],
      ['INTAKE_READ_TOKEN', config.readToken],
    ];
    for (const [variable, token] of tokens) {
      if (token !== undefined && token.length < MIN_PRODUCTION_TOKEN_LENGTH) {
        throw new ConfigError(
          variable,
          `must be at least ${MIN_PRODUCTION_TOKEN_LENGTH} characters in production (NODE_ENV=production)`,
        );
      }
    }
  }
}
