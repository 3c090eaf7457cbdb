import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowTracingInterceptorModules } from '../src/temporal/tracing';

/**
 * `npm run build:bundle` (part of `npm run build`): bundles workflows/ once, at build time, into
 * dist/workflow-bundle.js, and with the OpenTelemetry workflow interceptors (which run inside the
 * sandbox, so only a bundle can carry them) into dist/workflow-bundle-traced.js. The compiled
 * worker (dist/src/worker/worker.js) loads the one that matches its tracing setting instead of running
 * webpack at every start; running from source never does (see workflowSource in src/worker/worker.ts).
 * Usage: tsx scripts/build-workflow-bundle.ts [output path]  (the traced one gets `-traced` added)
 */
async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const out = path.resolve(process.argv[2] ?? path.join(root, 'dist', 'workflow-bundle.js'));
  const traced = out.replace(/(\.js)?$/, '-traced.js');
  for (const [file, workflowInterceptorModules] of [
    [out, []],
    [traced, workflowTracingInterceptorModules()],
  ] as const) {
    const { code } = await bundleWorkflowCode({
      workflowsPath: path.join(root, 'workflows', 'index.ts'),
      workflowInterceptorModules: [...workflowInterceptorModules],
    });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Written beside and renamed, so a worker starting meanwhile never reads half a bundle.
    fs.writeFileSync(`${file}.tmp`, code);
    fs.renameSync(`${file}.tmp`, file);
    process.stdout.write(`workflow bundle: ${path.relative(process.cwd(), file)} (${code.length} bytes)\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`build-workflow-bundle: ${(err as Error).message}\n`);
  process.exit(1);
});
