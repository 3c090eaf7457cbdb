/**
 * INTAKE_WORKFLOW_BUNDLE for a worker the tests start: the run's prebuilt bundle
 * (test/support/global-setup.ts), the traced one when `env` turns tracing on. Nothing when `env`
 * sets the variable itself (`''`: the worker bundles workflows/ at start, as `npm start` does).
 */
export function testBundleEnv(env: Record<string, string | undefined>): { INTAKE_WORKFLOW_BUNDLE?: string } {
  if ('INTAKE_WORKFLOW_BUNDLE' in env) return {};
  const traced = !!(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const bundle = traced
    ? process.env.INTAKE_TEST_WORKFLOW_BUNDLE_TRACED
    : process.env.INTAKE_TEST_WORKFLOW_BUNDLE;
  return bundle ? { INTAKE_WORKFLOW_BUNDLE: bundle } : {};
}
