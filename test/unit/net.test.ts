import fs from 'node:fs';
import net from 'node:net';
import { DEFAULT_PORT_RANGE, freePort, parsePortRange } from '../../src/platform/net';

const [ephFrom, ephTo] = fs
  .readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
  .trim()
  .split(/\s+/)
  .map(Number);

describe('freePort', () => {
  it('stays below 32768 (the Temporal server keeps membership ports as smallint) and out of the ephemeral range', () => {
    expect(DEFAULT_PORT_RANGE.to).toBeLessThan(32768);
    expect(DEFAULT_PORT_RANGE.to < ephFrom! || DEFAULT_PORT_RANGE.from > ephTo!).toBe(true);
  });

  it('hands out distinct ports that bind, never one another’s +1000 (the Web UI port), none ephemeral', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(DEFAULT_PORT_RANGE.from);
      expect(p).toBeLessThanOrEqual(DEFAULT_PORT_RANGE.to);
      expect(ports).not.toContain(p + 1000);
    }
    // A port handed out still binds (nobody else was given it).
    const srv = net.createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(ports[0], '127.0.0.1', () => resolve());
    });
    await new Promise<void>((r) => srv.close(() => r()));
  });

  it('skips a port that is taken and says when a range has none left', async () => {
    const busy = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => busy.listen(port + 1, '127.0.0.1', () => r()));
    try {
      await expect(freePort({ from: port + 1, to: port + 1 })).rejects.toThrow(/no free port/);
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
    }
  });
});

describe('parsePortRange', () => {
  it('parses FROM-TO and refuses anything else, naming the setting', () => {
    expect(parsePortRange('7600-7699', 'BENCH_PORTS')).toEqual({ from: 7600, to: 7699 });
    expect(parsePortRange(' 20000-20000 ', 'BENCH_PORTS')).toEqual({ from: 20000, to: 20000 });
    expect(() => parsePortRange('7699-7600', 'BENCH_PORTS')).toThrow(
      /BENCH_PORTS "7699-7600" is not FROM-TO/,
    );
    expect(() => parsePortRange('7600', 'BENCH_PORTS')).toThrow(/FROM-TO/);
    expect(() => parsePortRange('0-10', 'BENCH_PORTS')).toThrow(/FROM-TO/);
    expect(() => parsePortRange('1-65536', 'BENCH_PORTS')).toThrow(/FROM-TO/);
  });
});
