import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowTracingInterceptorModules } from '../temporal/tracing';

/** The two prebuilt bundles: `plain` without the OpenTelemetry workflow interceptors, `traced` with them. */
export interface WorkflowBundles {
  plain: string;
  traced: string;
}

const silent = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * Bundles workflows/ with webpack into `plainFile` and, with the OpenTelemetry workflow interceptors
 * (they run inside the sandbox, so only a bundle can carry them), into `plainFile` with `-traced`
 * added. A worker given one as INTAKE_WORKFLOW_BUNDLE loads it instead of running webpack at every
 * start (src/worker/worker.ts, workflowSource). `npm run build`, the benches and the test run use
 * this. Each file is written beside and renamed, so a worker starting meanwhile never reads half a
 * bundle. `only: 'plain'` skips the traced one (its path is returned, with 0 bytes, but not written).
 */
export async function writeWorkflowBundles(
  plainFile: string,
  opts: { quiet?: boolean; only?: 'plain' } = {},
): Promise<WorkflowBundles & { bytes: Record<keyof WorkflowBundles, number> }> {
  const plain = path.resolve(plainFile);
  const traced = plain.replace(/(\.js)?$/, '-traced.js');
  const bytes = { plain: 0, traced: 0 };
  const kinds = opts.only === 'plain' ? (['plain'] as const) : (['plain', 'traced'] as const);
  for (const kind of kinds) {
    const file = kind === 'plain' ? plain : traced;
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      workflowInterceptorModules: kind === 'traced' ? workflowTracingInterceptorModules() : [],
      ...(opts.quiet ? { logger: silent } : {}),
    });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.${process.pid}.tmp`, code);
    fs.renameSync(`${file}.${process.pid}.tmp`, file);
    bytes[kind] = code.length;
  }
  return { plain, traced, bytes };
}
