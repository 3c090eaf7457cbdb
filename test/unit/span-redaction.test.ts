import { SpanStatusCode } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { hashedId, RedactingSpanProcessor } from '../../src/platform/span-redaction';

describe('RedactingSpanProcessor', () => {
  it('hashes id attributes and every occurrence of the ids elsewhere in the exported span', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new RedactingSpanProcessor(new SimpleSpanProcessor(exporter))],
    });
    const id = 'partners:acme:cus_4711';
    const span = provider.getTracer('t').startSpan('StartWorkflow:processEvent');
    span.setAttribute('temporalWorkflowId', id);
    span.setAttribute('intake.source', 'partners');
    span.recordException(new Error(`Workflow execution already started: ${id}`));
    span.setStatus({ code: SpanStatusCode.ERROR, message: `refused ${id}` });
    span.end();

    const [exported] = exporter.getFinishedSpans();
    expect(exported?.attributes).toEqual({ temporalWorkflowId: hashedId(id), 'intake.source': 'partners' });
    expect(exported?.status.message).toBe(`refused ${hashedId(id)}`);
    expect(JSON.stringify(exported?.events)).not.toContain('cus_4711');
    expect(JSON.stringify(exported?.events)).toContain(hashedId(id));
    expect(exported?.spanContext().traceId).toBe(span.spanContext().traceId);
    expect(hashedId(id)).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it('drops the search attributes and memo a workflow span carries, and hashes its nested workflow ids', () => {
    const exporter = new InMemorySpanExporter();
    const processor = new RedactingSpanProcessor(new SimpleSpanProcessor(exporter));
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    const span = provider.getTracer('t').startSpan('RunWorkflow:processEvent');
    // As the workflow interceptors record WorkflowInfo (objects reach the exporter through the sink).
    const info = {
      workflowId: 'partners:acme:msg_1',
      workflowType: 'processEvent',
      searchAttributes: { IntakeEntity: ['acme:cus_4711'] },
      typedSearchAttributes: { IntakeEntity: 'acme:cus_4711' },
      memo: { note: 'cus_4711' },
      parent: { workflowId: 'redrive:cus_4711', runId: 'r' },
    };
    Object.assign((span as unknown as { attributes: Record<string, unknown> }).attributes, info);
    span.end();
    const [exported] = exporter.getFinishedSpans();
    expect(exported?.attributes).toEqual({
      workflowId: hashedId('partners:acme:msg_1'),
      workflowType: 'processEvent',
      parent: { workflowId: hashedId('redrive:cus_4711'), runId: 'r' },
    });
  });
});
