import path from 'node:path';
import { writeWorkflowBundles } from '../src/worker/workflow-bundle';

/**
 * `npm run build:bundle` (part of `npm run build`): bundles workflows/ once, at build time, into
 * dist/workflow-bundle.js, and with the OpenTelemetry workflow interceptors into
 * dist/workflow-bundle-traced.js. The compiled worker (dist/src/worker/worker.js) loads the one that
 * matches its tracing setting instead of running webpack at every start; running from source never
 * does (see workflowSource in src/worker/worker.ts).
 * Usage: tsx scripts/build-workflow-bundle.ts [output path]  (the traced one gets `-traced` added)
 */
async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const out = process.argv[2] ?? path.join(root, 'dist', 'workflow-bundle.js');
  const written = await writeWorkflowBundles(out);
  for (const kind of ['plain', 'traced'] as const) {
    process.stdout.write(
      `workflow bundle: ${path.relative(process.cwd(), written[kind])} (${written.bytes[kind]} bytes)\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`build-workflow-bundle: ${(err as Error).message}\n`);
  process.exit(1);
});
