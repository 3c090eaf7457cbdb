import type { BenchRun } from './results';
import { SCENARIO_LABELS } from './results';

/** Throughput and p99 per scenario × concurrency (log scales), one column per Temporal server. */
export async function renderChart(run: BenchRun): Promise<string> {
  // vega and vega-lite are ES modules with top-level await: import() them from this CommonJS file.
  const vega = await import('vega');
  const vegaLite = await import('vega-lite');
  const values = run.backends.flatMap((b) =>
    b.measurements.map((m) => ({
      backend: b.kind === 'dev' ? 'dev server (SQLite)' : 'server on PostgreSQL',
      scenario: SCENARIO_LABELS[m.scenario],
      concurrency: m.concurrency,
      rps: Math.round(m.rps),
      p99: m.p99,
    })),
  );
  const legend = { orient: 'bottom', columns: 2, labelLimit: 400 };
  const x = {
    field: 'concurrency',
    type: 'ordinal',
    title: 'concurrent connections',
    axis: { labelAngle: 0 },
  };
  const facet = { column: { field: 'backend', type: 'nominal', title: null } };
  // Lines on log scales: the HTTP-only scenarios run an order of magnitude above the Temporal ones.
  const panel = (field: 'rps' | 'p99', title: string) => ({
    data: { values },
    facet,
    spec: {
      width: 360,
      height: 220,
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x,
        y: { field, type: 'quantitative', title, scale: { type: 'log' } },
        color: { field: 'scenario', type: 'nominal', legend },
      },
    },
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Intake bench ${run.startedAt}`,
      subtitle: `${run.machine.nproc} cores, Node ${run.machine.node}`,
    },
    vconcat: [panel('rps', 'requests / s, 2xx (log scale)'), panel('p99', 'p99 latency, ms (log scale)')],
    resolve: { scale: { color: 'shared' } },
  };
  const compiled = vegaLite.compile(spec as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
