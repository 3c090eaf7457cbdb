import fs from 'node:fs';
import path from 'node:path';
import { startIntake, waitFor, type Intake } from '../support/harness';
import { startMetricsWorker, type MetricsWorker } from '../support/metrics-worker';
import { mailgunRequest, send } from '../support/requests';

const root = path.resolve(__dirname, '../..');

/**
 * Series the alert rules and the dashboard may use before they are exported; listed here so the
 * check names them, removed once they are. (The spool's series are exported now.)
 */
const PENDING = new Set<string>([]);

/** Every PromQL expression of a Grafana dashboard, panels in rows included. */
function dashboardExprs(file: string): string[] {
  const out: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'expr' && typeof v === 'string') out.push(v);
        else visit(v);
      }
    }
  };
  visit(JSON.parse(fs.readFileSync(file, 'utf8')));
  return out;
}

/** The `expr:` of every rule in a Prometheus rule file (single-line or block scalars). */
function ruleExprs(file: string): string[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr: ?(.*)$/.exec(lines[i] ?? '');
    if (!m) continue;
    if (m[2] !== '|') {
      out.push(m[2] ?? '');
      continue;
    }
    const block: string[] = [];
    while (
      i + 1 < lines.length &&
      /^\s*$|^\s{10,}/.test(lines[i + 1] ?? '') &&
      !/^\s*\w+:/.test(lines[i + 1] ?? '')
    )
      block.push(lines[++i] ?? '');
    out.push(block.join('\n'));
  }
  return out;
}

/**
 * The metric names a PromQL expression reads: identifiers outside quoted strings, label matchers
 * and `by/without/on/ignoring (…)` lists that are not functions, keywords or the synthetic `up`.
 * Every Intake and SDK series is prefixed (intake_, temporal_), which keeps this exact.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...stripped.matchAll(/\b(?:intake|temporal)_[A-Za-z0-9_:]*\b/g)].map((m) => m[0]);
}

/** The sample names of a Prometheus text exposition. */
function scrapedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)[{ ]/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

describe('the Grafana dashboard and the alert rules use only series Intake exports', () => {
  let intake: Intake;
  let metricsWorker: MetricsWorker;

  beforeAll(async () => {
    // `clicked` events fail permanently, so one event parks at once; `opened` events fail their
    // quick local attempt once and complete in the regular (fallback) activity.
    intake = await startIntake({
      store: 'postgres',
      worker: false,
      env: { INTAKE_FAILPOINTS: 'mailgun.permanent=clicked,mailgun.once=opened' },
    });
    metricsWorker = await startMetricsWorker(intake);
  });
  afterAll(async () => {
    await metricsWorker?.stop();
    await intake?.stop();
  });

  it('finds every metric of the dashboard and of alerts.yml in a live scrape of API and worker', async () => {
    // A processed event, a duplicate, a refusal and a parked event, so every labelled series exists.
    const req = mailgunRequest();
    const parks = mailgunRequest({ event: 'clicked' });
    const fallsBack = mailgunRequest({ event: 'opened' });
    expect((await send(intake.url, req)).json).toMatchObject({ status: 'accepted' });
    expect((await send(intake.url, req)).json).toMatchObject({ status: 'duplicate' });
    expect((await send(intake.url, parks)).json).toMatchObject({ status: 'accepted' });
    expect((await send(intake.url, fallsBack)).json).toMatchObject({ status: 'accepted' });
    expect((await send(intake.url, mailgunRequest({ key: 'key-wrong' }))).status).toBe(401);
    await waitFor(async () => (await intake.events.get(`mailgun:${req.eventId}`)).status === 'processed');
    await waitFor(async () => (await intake.events.get(`mailgun:${parks.eventId}`)).status === 'parked');
    await waitFor(
      async () => (await intake.events.get(`mailgun:${fallsBack.eventId}`)).status === 'processed',
    );
    const api = await (await fetch(`${intake.url}/metrics`)).text();
    const scraped = await waitFor(async () => {
      const names = scrapedNames(api + '\n' + (await (await fetch(metricsWorker.url)).text()));
      // Core exports its histograms once they have a sample: wait for the regular (fallback) and the
      // local (happy path) activity's.
      return (
        names.has('temporal_activity_execution_latency_bucket') &&
        names.has('temporal_local_activity_execution_latency_bucket') &&
        names
      );
    });

    const used = new Map<string, string>();
    const dashboard = path.join(root, 'deploy/grafana/dashboards/intake.json');
    const exprs = [
      ...dashboardExprs(dashboard).map((e) => ['dashboard', e] as const),
      ...ruleExprs(path.join(root, 'deploy/prometheus/alerts.yml')).map((e) => ['alerts.yml', e] as const),
    ];
    for (const [where, expr] of exprs) for (const name of metricNames(expr)) used.set(name, where);
    expect(dashboardExprs(dashboard).length).toBeGreaterThan(15);
    const rules = fs.readFileSync(path.join(root, 'deploy/prometheus/alerts.yml'), 'utf8');
    const ruleCount = rules.match(/^\s*- alert: /gm)?.length;
    expect(exprs.filter(([where]) => where === 'alerts.yml')).toHaveLength(ruleCount ?? -1);
    // The extraction itself: a rule's names, labels and functions apart.
    expect(
      metricNames('sum by (le, task_queue) (rate(temporal_x_bucket{job="intake_y"}[5m])) / intake_z'),
    ).toEqual(['temporal_x_bucket', 'intake_z']);

    const missing = [...used.keys()].filter((n) => !scraped.has(n));
    expect(missing.filter((n) => !PENDING.has(n)).map((n) => `${n} (${used.get(n)})`)).toEqual([]);
    // A pending series that is exported by now must leave the pending list (checked, not assumed).
    expect([...PENDING].filter((n) => scraped.has(n))).toEqual([]);
    // The dashboard covers each area the operators asked for.
    for (const name of [
      'intake_webhook_requests_total',
      'intake_ack_latency_seconds_bucket',
      'intake_events_processed_total',
      'intake_events_parked_total',
      'intake_handler_attempts_total',
      'temporal_workflow_task_schedule_to_start_latency_bucket',
      'intake_spool_depth',
    ])
      expect(used.has(name)).toBe(true);
  });
});
