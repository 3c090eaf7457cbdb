import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ApiDeps } from './app';
import { createApp } from './app';
import type { SpoolRelay } from '../ingest/spool-relay';
import { assertHoldsNewestArchiveKey } from '../store/event-archive';

/** A listening API. */
export interface RunningApi {
  server: http.Server;
  url: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Requests Node's HTTP parser refuses before express sees them get a JSON body like every other
 * refusal: headers over Node's limit (--max-http-header-size, default 16 KiB) → 431
 * `{"error":"headers_too_large"}`, a header or body that exceeds server.headersTimeout /
 * requestTimeout → 408 `{"error":"request_timeout"}`, anything unparsable (e.g. the bytes after a
 * body shorter than its Content-Length claimed) → 400 `{"error":"bad_request"}`. Then the
 * connection is closed, as Node's default handler does.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // Same guard as Node's default: never write into a response that has already begun.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, code] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout']
        : [400, 'bad_request'];
  const body = JSON.stringify({ error: code });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Starts the API on config.host:config.port (port 0 picks a free one). */
export async function startApi(deps: ApiDeps): Promise<RunningApi> {
  await assertHoldsNewestArchiveKey(deps.store, deps.config.encryptionKeys);
  const app = createApp(deps);
  const t = deps.config.http;
  const server = http.createServer(
    {
      headersTimeout: t.headersTimeoutMs,
      requestTimeout: t.requestTimeoutMs,
      // Node enforces the two timeouts above only when it sweeps its connections, every 30 s by
      // default: a stalled request then waited up to a minute for its 408. Sweep often enough that
      // the answer comes within a second of the timeout.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(t.headersTimeoutMs / 4))),
    },
    app,
  );
  // Longer than the idle timeout of the clients and load balancers in front of the API (Node's
  // default of 5 s was shorter than some, and on a busy host undici's 4 s pool timeout fired late):
  // the side that closes an idle keep-alive connection must be the client, or a request it sends
  // on that connection at the same moment meets "other side closed". Node announces it in the
  // `Keep-Alive: timeout=…` header, so clients that honour it (undici) close first.
  server.keepAliveTimeout = t.keepAliveTimeoutMs;
  // No count limit: Node drops the headers past it silently, so a second Content-Type or
  // Content-Encoding after header #100 was invisible to the duplicate checks. The header section is
  // still bounded by size (16 KiB, then 431).
  server.maxHeadersCount = 0;
  // While draining, every answer closes its connection: keep-alive clients must reconnect (and are
  // refused), instead of sending more requests over connections that server.close() leaves open.
  let closing = false;
  const open = new Set<http.ServerResponse>();
  server.prependListener('request', (_req, res) => {
    if (closing) res.setHeader('Connection', 'close');
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.config.port, deps.config.host, () => resolve());
  });
  // Every API process relays the start spool while it listens; no leader (see spool-relay.ts).
  const relay = app.locals.relay as SpoolRelay;
  relay.start();
  const { port } = server.address() as AddressInfo;
  const host = deps.config.host === '0.0.0.0' ? '127.0.0.1' : deps.config.host;
  return {
    server,
    url: `http://${host}:${port}`,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const res of open) if (!res.headersSent) res.setHeader('Connection', 'close');
        server.close(() => {
          relay.stop().then(resolve, resolve);
        });
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), graceMs).unref();
      }),
  };
}
