import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowTracingInterceptorModules } from '../src/temporal/tracing';

/**
 * `npm run build:bundle` (part of `npm run build`): bundles workflows/ once, at build time, into
 * dist/workflow-bundle.js. The compiled worker (dist/src/worker.js) loads it instead of running
 * webpack at every start; running from source never does (see workflowSource in src/worker.ts).
 * Usage: tsx scripts/build-workflow-bundle.ts [output path]
 */
async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const out = path.resolve(process.argv[2] ?? path.join(root, 'dist', 'workflow-bundle.js'));
  // The OpenTelemetry workflow interceptors live in the sandbox, so they must be bundled here.
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(root, 'workflows', 'index.ts'),
    workflowInterceptorModules: workflowTracingInterceptorModules(),
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // Written beside and renamed, so a worker starting meanwhile never reads half a bundle.
  fs.writeFileSync(`${out}.tmp`, code);
  fs.renameSync(`${out}.tmp`, out);
  process.stdout.write(`workflow bundle: ${path.relative(process.cwd(), out)} (${code.length} bytes)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`build-workflow-bundle: ${(err as Error).message}\n`);
  process.exit(1);
});
