import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Link,
  type Tracer,
} from '@opentelemetry/api';
import type { RequestHandler } from 'express';

/**
 * One SERVER span per webhook request, named and attributed by the HTTP semantic conventions:
 * method, route template, status code, scheme and protocol version; plus the source and, once the
 * event is identified, `intake.event_id` (the workflow id), so a trace is found from an event.
 * Never the path's values, the query, headers or anything from the body.
 *
 * The span is the parent of the workflow start (the Temporal client interceptor runs inside its
 * context), so the trace continues into the workflow and the handler activity. A `traceparent`
 * sent by the provider is untrusted input from the internet: it becomes a link, not the parent,
 * so nobody outside chooses the trace our spans land in.
 *
 * Written here rather than with @opentelemetry/instrumentation-http: that one must patch `http`
 * before it is first loaded (a --require hook around every entry point, jest included), records
 * client addresses and user agents by default, and would trace /metrics scrapes and health checks.
 */
export function requestSpan(tracer: Tracer | undefined, route: string, source: string): RequestHandler {
  if (!tracer) return (_req, _res, next) => next();
  return (req, res, next) => {
    const remote = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, req.headers));
    const links: Link[] = remote && trace.isSpanContextValid(remote) ? [{ context: remote }] : [];
    const span = tracer.startSpan(
      `${req.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        root: true,
        links,
        attributes: {
          'http.request.method': req.method,
          'http.route': route,
          'url.scheme': req.protocol,
          'network.protocol.version': req.httpVersion,
          'intake.source': source,
        },
      },
      ROOT_CONTEXT,
    );
    const ctx = trace.setSpan(context.active(), span);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const eventId = res.locals.eventId as unknown;
      if (typeof eventId === 'string') span.setAttribute('intake.event_id', eventId);
      if (res.headersSent) span.setAttribute('http.response.status_code', res.statusCode);
      if (!res.writableFinished) span.setAttribute('error.type', 'aborted');
      else if (res.statusCode >= 500) span.setAttribute('error.type', String(res.statusCode));
      if (!res.writableFinished || res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end).once('close', end);
    // The body arrives in 'data'/'end' events whose listeners would otherwise run outside the
    // span's context; binding the request carries it to the handlers that run after the body.
    context.bind(ctx, req);
    context.with(ctx, next);
  };
}
