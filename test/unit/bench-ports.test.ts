import net from 'node:net';
import { benchPortRange, freeLowPort, freePort } from '../../bench/lib/children';

function listen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}
const close = (srv: net.Server) => new Promise<void>((r) => srv.close(() => r()));

/** Three consecutive ports below 32768 that are free now, the middle one held by a server. */
async function rangeWithBusyMiddle(): Promise<{ from: number; busy: net.Server }> {
  for (let i = 0; i < 100; i++) {
    const from = 20000 + Math.floor(Math.random() * 12000);
    const servers = await Promise.all([listen(from), listen(from + 1), listen(from + 2)]);
    const ok = servers.every(Boolean);
    await Promise.all(servers.filter((s, k) => s && (!ok || k !== 1)).map((s) => close(s!)));
    if (ok) return { from, busy: servers[1]! };
  }
  throw new Error('no three free consecutive ports');
}

describe('bench ports (BENCH_PORTS)', () => {
  const saved = process.env.BENCH_PORTS;
  afterEach(() => {
    if (saved === undefined) delete process.env.BENCH_PORTS;
    else process.env.BENCH_PORTS = saved;
  });

  it('parses FROM-TO and rejects anything else', async () => {
    expect(benchPortRange({ BENCH_PORTS: '7600-7699' })).toEqual({ from: 7600, to: 7699 });
    expect(benchPortRange({})).toBeUndefined();
    expect(() => benchPortRange({ BENCH_PORTS: '7699-7600' })).toThrow(/FROM-TO/);
    expect(() => benchPortRange({ BENCH_PORTS: '7600' })).toThrow(/FROM-TO/);
    process.env.BENCH_PORTS = '40000-40100';
    await expect(freeLowPort()).rejects.toThrow(/below 32768/);
  });

  it('hands out distinct free ports of the range, skips a busy one, and says when none is left', async () => {
    const { from, busy } = await rangeWithBusyMiddle();
    try {
      process.env.BENCH_PORTS = `${from}-${from + 2}`;
      expect([await freePort(), await freeLowPort()]).toEqual([from, from + 2]);
      await expect(freePort()).rejects.toThrow(/no free port/);
    } finally {
      await close(busy);
    }
  });
});
