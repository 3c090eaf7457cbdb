import net from 'node:net';
import { startIntake, type Intake } from '../support/harness';

const MAX_BODY = 64 * 1024;

/** What one raw connection received, and how it ended. */
interface RawExchange {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The socket error, if the connection was reset instead of closed. */
  error?: string;
}

/**
 * Opens a connection, writes `chunks` one after the other (stopping quietly if the server has
 * closed), and resolves once the server has closed the connection or `keepOpen` has answered.
 * Unlike fetch, it sees everything: the answer bytes and whether the end was a FIN or a reset.
 */
function exchange(url: string, chunks: (string | Buffer)[], deadlineMs = 60_000): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let error: string | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection still open after ${deadlineMs} ms; received: ${received.toString()}`));
    }, deadlineMs);
    socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => {
      clearTimeout(timer);
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = (end < 0 ? text : text.slice(0, end)).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({
        status: Number(statusLine.split(' ')[1] ?? 0),
        headers,
        body: end < 0 ? '' : text.slice(end + 4),
        error,
      });
    });
    socket.on('connect', () => {
      void (async () => {
        for (const c of chunks) {
          if (socket.destroyed || !socket.writable) return;
          await new Promise<void>((r) => socket.write(c, () => r()));
        }
      })();
    });
  });
}

const head = (extra: string) =>
  `POST /webhooks/mailgun HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n`;

describe('HTTP timeouts: stalled requests get 408 within seconds, oversize bodies a readable 413', () => {
  let intake: Intake;
  beforeAll(async () => {
    intake = await startIntake({
      store: 'pglite',
      worker: false,
      env: {
        INTAKE_MAX_BODY_BYTES: String(MAX_BODY),
        INTAKE_HTTP_HEADERS_TIMEOUT_MS: '1000',
        INTAKE_HTTP_BODY_TIMEOUT_MS: '1000',
        INTAKE_HTTP_REQUEST_TIMEOUT_MS: '20000',
      },
    });
  });
  afterAll(async () => {
    await intake?.stop();
  });

  it('answers a body shorter than its Content-Length with 408 and closes the connection', async () => {
    // With Node's own timeouts this took 30-60 s (request timeout, swept every 30 s); the
    // exchange's deadline is far below that and far above the configured 1 s.
    const res = await exchange(intake.url, [head('Content-Length: 500\r\n') + '{"signature":'], 20_000);
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body)).toEqual({ error: 'request_timeout' });
    expect(res.headers.connection).toBe('close');
  });

  it('answers headers that stall with 408', async () => {
    const res = await exchange(intake.url, ['POST /webhooks/mailgun HTTP/1.1\r\nHost: x\r\n'], 20_000);
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body)).toEqual({ error: 'request_timeout' });
  });

  it('lets the client read its 413 for an oversize body instead of a reset (6 of 6)', async () => {
    const body = Buffer.alloc(3 * MAX_BODY, 'x');
    const pieces: Buffer[] = [];
    for (let i = 0; i < body.length; i += 16 * 1024) pieces.push(body.subarray(i, i + 16 * 1024));
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        exchange(intake.url, [head(`Content-Length: ${body.length}\r\n`), ...pieces]),
      ),
    );
    for (const r of results) {
      expect(r).toMatchObject({ status: 413, error: undefined });
      expect(JSON.parse(r.body)).toEqual({ error: 'payload_too_large' });
    }
  });

  it('keeps an idle keep-alive connection open longer than Node’s 5 s default, and says so', async () => {
    const request = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    const socket = net.connect(Number(new URL(intake.url).port), '127.0.0.1');
    const answers: string[] = [];
    let buffer = '';
    let closed = false;
    socket.on('data', (d: Buffer) => {
      buffer += d.toString('latin1');
      const m = /\r\n\r\n/.exec(buffer);
      if (!m) return;
      const length = Number(/content-length: (\d+)/i.exec(buffer)?.[1] ?? 0);
      if (buffer.length >= m.index + 4 + length) {
        answers.push(buffer.slice(0, m.index + 4 + length));
        buffer = buffer.slice(m.index + 4 + length);
      }
    });
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    socket.write(request);
    while (answers.length < 1) await new Promise((r) => setTimeout(r, 50));
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200 /);
    expect(answers[0]).toMatch(/keep-alive: timeout=65/i);
    // Idle past Node's default keep-alive timeout (5 s): the server must not have closed it.
    await new Promise((r) => setTimeout(r, 6000));
    expect(closed).toBe(false);
    socket.write(request);
    while (answers.length < 2 && !closed) await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    expect(answers[1]).toMatch(/^HTTP\/1\.1 200 /);
  });
});
