import {
  IllegalStateError,
  type LogLevel,
  type LogMetadata,
  type Logger as SdkLogger,
} from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import type { Config } from '../config';
import type { Logger } from '../platform/logger';

/** Pino level → the SDK's level (the SDK has no fatal/silent; pino filters those itself). */
const SDK_LEVEL: Record<Config['logLevel'], LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

const PINO_METHOD = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/**
 * The SDK's logger interface (what `DefaultLogger` implements) on top of pino, so SDK, Core and
 * workflow/activity context logs come out as the same JSON lines as Intake's own, at LOG_LEVEL.
 * Errors in the metadata are reduced to name and message: Intake's messages never hold payloads,
 * and stack traces belong in the Temporal history, not in every log line.
 */
export class PinoSdkLogger implements SdkLogger {
  private readonly pino: Logger;
  constructor(logger: Logger) {
    this.pino = logger.child({ component: 'temporal-sdk' });
  }
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(meta ?? {})) {
      fields[k] = v instanceof Error ? { name: v.name, message: v.message } : v;
    }
    this.pino[PINO_METHOD[level] ?? 'info'](fields, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** Options of {@link installRuntime}. */
export interface RuntimeInstallOptions {
  /** Where SDK and Core logs go (through {@link PinoSdkLogger}). */
  logger: Logger;
  /** LOG_LEVEL; Core's own filter is set to the same level. */
  logLevel: Config['logLevel'];
  /**
   * host:port for Core's Prometheus exporter (`temporal_…` series at `/metrics`). Unset: no SDK
   * metrics. `intake worker` binds it on a loopback port and merges it into its own /metrics.
   */
  sdkMetricsAddress?: string;
}

/** What the process's Runtime looks like after {@link installRuntime}. */
export interface InstalledRuntime {
  /** False when something created the Runtime before us (it then keeps its own settings). */
  installedByIntake: boolean;
  /** `http://host:port/metrics` of Core's Prometheus exporter, when it is on. */
  sdkMetricsUrl?: string;
}

let installed: InstalledRuntime | undefined;

/**
 * Installs the Temporal Runtime once per process: logs through pino, optional Prometheus metrics.
 * `Runtime.install` may run only once and only before the first NativeConnection/Worker, so the
 * first call wins and later calls return its result. The SDK re-creates a Runtime that was shut
 * down (last worker closed) from the options installed here, so they stay in force.
 */
export function installRuntime(opts: RuntimeInstallOptions): InstalledRuntime {
  if (installed) return installed;
  const level = SDK_LEVEL[opts.logLevel];
  try {
    Runtime.install({
      logger: new PinoSdkLogger(opts.logger),
      telemetryOptions: {
        logging: { filter: { core: level, other: 'ERROR' }, forward: {} },
        ...(opts.sdkMetricsAddress
          ? { metrics: { prometheus: { bindAddress: opts.sdkMetricsAddress, countersTotalSuffix: true } } }
          : {}),
      },
    });
  } catch (err) {
    if (!(err instanceof IllegalStateError)) throw err;
    opts.logger.warn('the Temporal Runtime was created before installRuntime; SDK logs/metrics unchanged');
    return { installedByIntake: false };
  }
  installed = {
    installedByIntake: true,
    sdkMetricsUrl: opts.sdkMetricsAddress ? `http://${opts.sdkMetricsAddress}/metrics` : undefined,
  };
  return installed;
}
