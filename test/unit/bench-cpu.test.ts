import { spawn } from 'node:child_process';
import { cpuSeconds, machineCpuSeconds, treeCpuSeconds } from '../../bench/lib/cpu';

/**
 * The bench's CPU readings from /proc (bench:drain's CPU per event with `--server cluster`): a
 * process tree's reading keeps the CPU of children that exited, as a PostgreSQL postmaster's must
 * keep its finished backends'.
 */
describe('bench CPU readings', () => {
  it("counts an exited child's CPU in its parent's tree, not in the parent's own", async () => {
    const ownBefore = cpuSeconds(process.pid)!;
    const treeBefore = treeCpuSeconds(process.pid)!;
    // A child that burns 0.4 s of its own CPU (not of wall time) and exits.
    const child = spawn(process.execPath, [
      '-e',
      'const s = process.cpuUsage(); while ((process.cpuUsage(s).user + process.cpuUsage(s).system) < 400000) {}',
    ]);
    await new Promise((resolve) => child.once('exit', resolve));
    const tree = treeCpuSeconds(process.pid)! - treeBefore;
    const own = cpuSeconds(process.pid)! - ownBefore;
    expect(tree - own).toBeGreaterThanOrEqual(0.35);
  });

  it('reads the whole machine: busy time within total time', () => {
    const m = machineCpuSeconds();
    expect(m.total).toBeGreaterThan(0);
    expect(m.busy).toBeGreaterThan(0);
    expect(m.busy).toBeLessThanOrEqual(m.total);
  });

  it('a gone process reads as undefined', () => {
    expect(treeCpuSeconds(2 ** 22 + 1)).toBeUndefined();
  });
});
