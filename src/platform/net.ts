import fs from 'node:fs';
import net from 'node:net';

/** An inclusive range of TCP ports. */
export interface PortRange {
  from: number;
  to: number;
}

/**
 * Parses `FROM-TO` (e.g. `7600-7699`, as BENCH_PORTS takes it) into a range; throws naming `what`
 * when it is anything else.
 */
export function parsePortRange(spec: string, what: string): PortRange {
  const m = /^(\d+)-(\d+)$/.exec(spec.trim());
  const from = Number(m?.[1]);
  const to = Number(m?.[2]);
  if (!m || from < 1 || to > 65535 || from > to) throw new Error(`${what} "${spec}" is not FROM-TO`);
  return { from, to };
}

/** Where {@link freePort} looks by default: below Linux's ephemeral range (32768–60999). */
export const DEFAULT_PORT_RANGE: PortRange = { from: 20000, to: 31999 };

/**
 * The kernel's ephemeral range (ports it gives to outgoing connections and to `listen(0)`), or
 * undefined where it cannot be read.
 */
function ephemeralRange(): PortRange | undefined {
  try {
    const [from, to] = fs
      .readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    return Number.isInteger(from) && Number.isInteger(to) ? { from: from!, to: to! } : undefined;
  } catch {
    return undefined;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Ports this process has handed out (each with its +1000 neighbour, the dev server's Web UI port). */
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that binds now, that this process has not handed out before, and that is
 * outside the kernel's ephemeral range, for servers that cannot take port 0 (the Temporal dev
 * server, Core's metrics exporter) and for tests and benchmarks.
 *
 * Why not `listen(0)` and close: that port comes from the ephemeral range, which every outgoing
 * connection and every other `listen(0)` on the machine draws from too (a Temporal dev server picks
 * its internal ports that way), so by the time the caller binds it, it may be taken. Ports of
 * `range` are picked at random, so processes picking at the same time rarely meet; the +1000
 * neighbour is reserved too because `intake dev` puts the Web UI there.
 */
export async function freePort(range: PortRange = DEFAULT_PORT_RANGE, random = true): Promise<number> {
  // A range the caller chose is theirs to choose; the default one keeps clear of the ephemeral range.
  const eph = range === DEFAULT_PORT_RANGE ? ephemeralRange() : undefined;
  const span = range.to - range.from + 1;
  const offset = random ? Math.floor(Math.random() * span) : 0;
  for (let i = 0; i < span; i++) {
    const port = range.from + ((offset + i) % span);
    if (handedOut.has(port) || handedOut.has(port + 1000) || (eph && port >= eph.from && port <= eph.to))
      continue;
    if (!(await bindable(port))) continue;
    handedOut.add(port);
    handedOut.add(port + 1000);
    return port;
  }
  throw new Error(`no free port in ${range.from}-${range.to}`);
}
