import net from 'node:net';

/**
 * A TCP port that was free a moment ago on 127.0.0.1, for servers that cannot take port 0 (the
 * Temporal dev server). Used by tests, benchmarks and scripts.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
