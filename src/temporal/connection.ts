import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import type { Config } from '../config';
import type { Tracing } from '../platform/telemetry';
import { createEncryptionCodec } from './encryption-codec';
import { clientTracingInterceptors } from './tracing';

/**
 * Temporal connection settings from @temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the TOML profile file all work as they do
 * for the `temporal` CLI.
 */
export function temporalConnectConfig(
  config: Config,
): Required<Pick<ClientConnectConfig, 'namespace'>> & ClientConnectConfig {
  const loaded = loadClientConnectConfig({ overrideEnvVars: config.temporal.env });
  return {
    namespace: loaded.namespace ?? config.temporal.namespace,
    connectionOptions: {
      ...loaded.connectionOptions,
      address: loaded.connectionOptions.address ?? config.temporal.address,
    },
  };
}

/** The data converter shared by client and worker: the encryption codec when keys are set. */
export function dataConverter(config: Config): DataConverter {
  const codec = createEncryptionCodec(config.encryptionKeys);
  return codec ? { payloadCodecs: [codec] } : {};
}

/**
 * A client whose connection is made lazily, so the API starts (and answers 503) while Temporal is
 * down; the connection recovers by itself when Temporal is back. With `tracing` on, starts, signals
 * and queries are traced and carry the trace context to the workflow.
 */
export function createClient(config: Config, tracing?: Tracing, shared?: NativeConnection): Client {
  const { namespace, connectionOptions } = temporalConnectConfig(config);
  // `shared`: a worker's connection in the same process (`intake dev` with INTAKE_EAGER_START):
  // only a client on it can start workflows eagerly (see startEvent).
  const connection =
    shared ??
    Connection.lazy({
      address: connectionOptions.address,
      tls: connectionOptions.tls,
      apiKey: connectionOptions.apiKey,
      metadata: connectionOptions.metadata,
      connectTimeout: 5000,
    });
  return new Client({
    connection,
    namespace,
    dataConverter: dataConverter(config),
    interceptors: { workflow: clientTracingInterceptors(tracing) },
  });
}
