import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiDeps } from './app';
import { createApp } from './app';

/** A listening API. */
export interface RunningApi {
  server: http.Server;
  url: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

/** Starts the API on config.host:config.port (port 0 picks a free one). */
export async function startApi(deps: ApiDeps): Promise<RunningApi> {
  const app = createApp(deps);
  const server = http.createServer(app);
  // Slow-loris and header-flood limits; bodies have their own limit.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxHeadersCount = 100;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.config.port, deps.config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = deps.config.host === '0.0.0.0' ? '127.0.0.1' : deps.config.host;
  return {
    server,
    url: `http://${host}:${port}`,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), graceMs).unref();
      }),
  };
}
