import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * deploy/prometheus/alerts.yml must be valid (`promtool check rules`) and do what its unit tests
 * say (`promtool test rules alerts.test.yml`). promtool comes with Debian's `prometheus` package,
 * which .ci/run installs: in CI a missing promtool fails this test; on a developer machine without
 * it the two checks are reported as skipped.
 */
const dir = path.resolve(__dirname, '../../deploy/prometheus');

function findPromtool(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const promtool = findPromtool();
const run = (args: string[]) =>
  execFileSync(promtool ?? 'promtool', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' });

describe('Prometheus alert rules', () => {
  if (!promtool && process.env.CI !== 'true') {
    it.skip('promtool check rules / test rules (promtool not installed: apt-get install prometheus)', () =>
      undefined);
    return;
  }

  it('has promtool (Debian package prometheus)', () => {
    expect(promtool).toBeDefined();
  });

  it('passes promtool check rules', () => {
    expect(run(['check', 'rules', 'alerts.yml'])).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('has a valid Prometheus configuration for docker-compose.yml, loading the rules', () => {
    expect(run(['check', 'config', 'prometheus.yml'])).toMatch(/SUCCESS: 1 rule files found/);
  });

  it('passes its unit tests (promtool test rules)', () => {
    expect(run(['test', 'rules', 'alerts.test.yml'])).toMatch(/SUCCESS/);
  });

  it('links every alert to a runbook anchor that exists in the README', () => {
    const rules = fs.readFileSync(path.join(dir, 'alerts.yml'), 'utf8');
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const alerts = [...rules.matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]);
    const anchors = [...rules.matchAll(/runbook_url: README\.md#([\w-]+)$/gm)].map((m) => m[1] ?? '');
    expect(anchors).toHaveLength(alerts.length);
    for (const anchor of anchors) expect(readme).toContain(`<a id="${anchor}"></a>`);
  });
});
