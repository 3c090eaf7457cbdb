import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ensureHelm } from '../../scripts/helm-binary';

/**
 * deploy/helm/intake, checked offline as CI does (scripts/check-helm-chart.ts): helm lint and
 * helm template with each value set, every rendered object validated against the Kubernetes, KEDA
 * and prometheus-operator schemas including unknown fields. The injected typos prove the check
 * bites. helm v3.22 comes from ~/.cache/intake/helm (built once from the Go module proxy, under a
 * lock, if missing: allow minutes the first time).
 */
const root = path.resolve(__dirname, '../..');
const chart = path.join(root, 'deploy/helm/intake');
const tsx = path.join(root, 'node_modules/.bin/tsx');
let helm: string;

/** A rendered object, read loosely: the assertions say what they expect of it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = Record<string, any>;

function check(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      tsx,
      ['scripts/check-helm-chart.ts', ...args],
      { cwd: root, env: { ...process.env, HELM_PATH: helm }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, out: stdout + stderr });
      },
    );
  });
}

function render(args: string[]): Promise<Manifest[]> {
  return new Promise((resolve, reject) => {
    execFile(
      helm,
      ['template', 'intake', chart, '--kube-version', '1.30.0', ...args],
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(stderr || err.message));
        resolve(
          parseAllDocuments(stdout)
            .map((d) => d.toJS() as Manifest)
            .filter(Boolean),
        );
      },
    );
  });
}

/** A copy of the chart with `from` replaced by `to` in one template. */
function chartWithTypo(template: string, from: string, to: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-chart-'));
  fs.cpSync(chart, dir, { recursive: true });
  const file = path.join(dir, 'templates', template);
  const text = fs.readFileSync(file, 'utf8');
  expect(text).toContain(from);
  fs.writeFileSync(file, text.replace(from, to));
  return dir;
}

beforeAll(async () => {
  helm = await ensureHelm({ env: process.env });
}, 45 * 60_000);

describe('the Helm chart', () => {
  it('lints, renders and validates with the defaults and the three value sets', async () => {
    const r = await check([]);
    expect(r.out).toContain('chart check passed');
    expect(r.code).toBe(0);
    for (const set of [
      'defaults',
      'minimal-values.yaml',
      'production-cloud-api-key-values.yaml',
      'production-mtls-values.yaml',
    ]) {
      expect(r.out).toContain(`rendered ${set}:`);
    }
    expect(r.out).toMatch(/ScaledObject/);
    expect(r.out).toMatch(/PrometheusRule/);
  });

  it('fails on a misspelt field in a Deployment template', async () => {
    const dir = chartWithTypo(
      'worker-deployment.yaml',
      'terminationGracePeriodSeconds:',
      'terminationGracePeriodSecond:',
    );
    try {
      const r = await check(['--chart', dir]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/FAIL Deployment\/intake-worker .*terminationGracePeriodSecond/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails on a misspelt field in the KEDA ScaledObject', async () => {
    const dir = chartWithTypo('worker-scaledobject.yaml', 'pollingInterval:', 'pollingIntervall:');
    try {
      const r = await check(['--chart', dir]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/FAIL ScaledObject\/intake-worker .*pollingIntervall/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails on a misspelt field that arrives through values (a securityContext)', async () => {
    const r = await check([
      '--values',
      path.join(chart, 'ci/minimal-values.yaml'),
      '--set',
      'securityContext.readOnlyRootFileSystem=true',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL Deployment\/intake-api .*readOnlyRootFileSystem/);
  });

  it('fails on a wrong type (a string where Kubernetes wants an integer)', async () => {
    const dir = chartWithTypo(
      'api-hpa.yaml',
      'stabilizationWindowSeconds: 300',
      'stabilizationWindowSeconds: "300s"',
    );
    try {
      const r = await check(['--chart', dir]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/FAIL HorizontalPodAutoscaler\/intake-api/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a misspelt values key (values.schema.json)', async () => {
    const r = await check([
      '--values',
      path.join(chart, 'ci/minimal-values.yaml'),
      '--set',
      'worker.keda.maxReplica=3',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('maxReplica');
  });

  it('refuses a worker grace period shorter than INTAKE_SHUTDOWN_GRACE_S', async () => {
    await expect(render(['--set', 'shutdownGraceSeconds=60'])).rejects.toThrow(
      /worker.terminationGracePeriodSeconds \(45\) must exceed shutdownGraceSeconds \(60\)/,
    );
  });

  it('scales workers with KEDA on the task queue backlog and lets them drain', async () => {
    const objects = await render(['--values', path.join(chart, 'ci/production-cloud-api-key-values.yaml')]);
    const so = objects.find((o) => o.kind === 'ScaledObject');
    expect(so?.spec.triggers[0]).toMatchObject({
      type: 'temporal',
      metadata: { taskQueue: 'intake', namespace: 'intake-prod.a1b2c', targetQueueSize: '100' },
      authenticationRef: { name: 'intake-temporal' },
    });
    expect(so?.spec).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 30 });
    const worker = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'intake-worker');
    const env = worker?.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    const grace = Number(env.find((e) => e.name === 'INTAKE_SHUTDOWN_GRACE_S')?.value);
    expect(worker?.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(grace);
    expect(worker?.spec.replicas).toBeUndefined(); // KEDA owns the replica count
  });

  it('takes every secret from existing Secrets and runs as non-root on a read-only filesystem', async () => {
    for (const set of ['production-cloud-api-key-values.yaml', 'production-mtls-values.yaml']) {
      const objects = await render(['--values', path.join(chart, 'ci', set)]);
      expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
      for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
        const pod = o.spec.template.spec;
        expect(pod.securityContext.runAsNonRoot).toBe(true);
        for (const c of pod.containers) {
          expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
          expect(c.resources.limits).toBeDefined();
          for (const e of c.env as { name: string; value?: string }[]) {
            if (/TOKEN|KEY|SECRET|DATABASE_URL/.test(e.name) && !e.name.endsWith('_PATH')) {
              expect(e.value).toBeUndefined();
            }
          }
        }
      }
    }
  });

  it('runs migrations and search-attribute registration as pre-install/pre-upgrade hooks', async () => {
    const objects = await render([]);
    const jobs = objects.filter((o) => o.kind === 'Job');
    expect(jobs.map((j) => j.spec.template.spec.containers[0].args)).toEqual([
      ['migrate'],
      ['search-attributes'],
    ]);
    for (const j of jobs) expect(j.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
  });

  it('ships the same alert rules as deploy/prometheus/alerts.yml', () => {
    expect(fs.readFileSync(path.join(chart, 'files/alerts.yml'), 'utf8')).toBe(
      fs.readFileSync(path.join(root, 'deploy/prometheus/alerts.yml'), 'utf8'),
    );
  });
});
