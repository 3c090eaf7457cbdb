import { isTransientStartError } from '../../src/ingest/workflow-start';

describe('isTransientStartError', () => {
  const grpc = (code: number) => Object.assign(new Error('rpc'), { code });
  it('spools what may succeed later: unavailable, deadline, exhausted, connection errors', () => {
    for (const code of [14, 4, 8, 1, 2, 13]) expect(isTransientStartError(grpc(code))).toBe(true);
    expect(isTransientStartError(new Error('Failed to connect before the deadline'))).toBe(true);
    // The SDK wraps the gRPC error in a ServiceError whose cause carries the code.
    expect(isTransientStartError(Object.assign(new Error('svc'), { cause: grpc(14) }))).toBe(true);
  });
  it('does not spool a start Temporal refuses as malformed', () => {
    expect(isTransientStartError(grpc(3))).toBe(false);
    expect(isTransientStartError(Object.assign(new Error('svc'), { cause: grpc(3) }))).toBe(false);
  });
});
