/**
 * Checks the Helm chart offline, as CI does: `helm lint --strict` and `helm template` with each
 * value set, then every rendered object against the Kubernetes, KEDA and prometheus-operator
 * schemas, unknown fields included (scripts/kube-validate.ts). No cluster is needed.
 *
 *   npx tsx scripts/check-helm-chart.ts [--chart DIR] [--values FILE]… [--set K=V]…
 *
 * Without --values: the chart's defaults and every ci/*-values.yaml. Exit 1 on any problem.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../src/config';
import { ensureHelm, HELM_VERSION, helmVersion } from './helm-binary';
import { validateObjects, type RenderedObject } from './kube-validate';

const ROOT = path.resolve(__dirname, '..');
/** The oldest Kubernetes the chart supports (Chart.yaml kubeVersion), rendered for. */
const KUBE_VERSION = '1.25.0';

function parseArgs(argv: string[]): { chart: string; values: string[]; set: string[] } {
  const out = { chart: path.join(ROOT, 'deploy/helm/intake'), values: [] as string[], set: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--chart') out.chart = path.resolve(value);
    else if (flag === '--values') out.values.push(path.resolve(value));
    else if (flag === '--set') out.set.push(value);
    else throw new Error(`unknown option ${flag}`);
    i++;
  }
  return out;
}

function helm(binary: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(binary, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return {
    ok: r.status === 0,
    out: r.stdout ?? '',
    err: (r.stderr ?? '') + (r.error ? r.error.message : ''),
  };
}

/** helm template's output as objects, each with its `# Source:` template. */
function splitRendered(text: string): RenderedObject[] {
  const objects: RenderedObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${doc.errors[0]?.message}`);
    const object = doc.toJS() as Record<string, unknown> | null;
    if (!object) continue;
    const source = /# Source: (\S+)/.exec(doc.commentBefore ?? '')?.[1] ?? 'unknown template';
    objects.push({ source, object });
  }
  return objects;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const binary = await ensureHelm({ env: loadConfig().childEnv });
  const version = helmVersion(binary);
  // A `go install`ed helm reports its minor version only (`v3.22`): the patch is set by release ldflags.
  const minor = HELM_VERSION.split('.').slice(0, 2).join('.');
  if (version !== minor && !version?.startsWith(`${minor}.`)) {
    throw new Error(`${binary} is helm ${version ?? '(no version)'}, expected ${minor}`);
  }
  const sets =
    opts.values.length > 0
      ? opts.values.map((v) => [v])
      : [
          [],
          ...fs
            .readdirSync(path.join(opts.chart, 'ci'))
            .filter((f) => f.endsWith('-values.yaml'))
            .sort()
            .map((f) => [path.join(opts.chart, 'ci', f)]),
        ];
  const extra = opts.set.flatMap((s) => ['--set', s]);
  const rendered: RenderedObject[] = [];
  let failed = false;
  for (const files of sets) {
    const label = files.length ? path.basename(files[0] ?? '') : 'defaults';
    const valueArgs = [...files.flatMap((f) => ['--values', f]), ...extra];
    const lint = helm(binary, ['lint', '--strict', '--kube-version', KUBE_VERSION, opts.chart, ...valueArgs]);
    if (!lint.ok) {
      process.stdout.write(`FAIL ${label}: helm lint\n${lint.out}${lint.err}\n`);
      failed = true;
      continue;
    }
    const tpl = helm(binary, [
      'template',
      'intake',
      opts.chart,
      '--namespace',
      'intake',
      '--kube-version',
      KUBE_VERSION,
      ...valueArgs,
    ]);
    if (!tpl.ok) {
      process.stdout.write(`FAIL ${label}: helm template\n${tpl.err}\n`);
      failed = true;
      continue;
    }
    const objects = splitRendered(tpl.out).map((o) => ({ ...o, source: `${label}: ${o.source}` }));
    rendered.push(...objects);
    const kinds = objects.map((o) => String(o.object.kind));
    process.stdout.write(
      `rendered ${label}: ${objects.length} objects (${[...new Set(kinds)].join(', ')})\n`,
    );
  }
  const problems = await validateObjects(rendered, ROOT);
  for (const p of problems) process.stdout.write(`FAIL ${p.object}: ${p.message}\n`);
  if (failed || problems.length > 0) {
    process.stdout.write(`chart check failed: ${problems.length} invalid object(s)\n`);
    process.exit(1);
  }
  process.stdout.write(
    `chart check passed: ${rendered.length} objects from ${sets.length} value sets valid\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
