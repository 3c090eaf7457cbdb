import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { startTracing } from '../../src/platform/telemetry';

describe('tracing configuration (standard OTEL_* variables)', () => {
  it('is off without an OTLP endpoint', () => {
    const config = loadConfig({});
    expect(config.tracing).toEqual({ endpoint: undefined, protocol: 'http/protobuf' });
    expect(startTracing(config, 'intake-api').tracer).toBeUndefined();
  });

  it('appends /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT, and takes the traces endpoint as given', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing.endpoint).toBe(
      'http://collector:4318/v1/traces',
    );
    const both = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/custom',
    });
    expect(both.tracing.endpoint).toBe('https://traces.example/custom');
  });

  it('honours OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(loadConfig({ ...on, OTEL_SDK_DISABLED: 'TRUE' }).tracing.endpoint).toBeUndefined();
    expect(loadConfig({ ...on, OTEL_TRACES_EXPORTER: 'none' }).tracing.endpoint).toBeUndefined();
    expect(loadConfig({ ...on, OTEL_SDK_DISABLED: 'false' }).tracing.endpoint).toBeDefined();
  });

  it('takes the traces protocol over the general one, and refuses gRPC naming the variable', () => {
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }).tracing.protocol,
    ).toBe('http/protobuf');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).tracing.protocol).toBe('http/json');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(ConfigError);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });

  it('names the service by its role (OTEL_SERVICE_NAME, read by the SDK, overrides it)', async () => {
    const config = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    const tracing = startTracing(config, 'intake-worker');
    expect(tracing.tracer).toBeDefined();
    expect(tracing.resource.attributes['service.name']).toBe('intake-worker');
    await tracing.shutdown();
  });
});
