import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import { routeLabel } from '../modules/metrics/http-metrics.middleware.js';
import { contextFromHeaders, TRACER_NAME, tracingActive } from './tracing.js';

/**
 * One SERVER span per HTTP request, continuing the caller's trace (`traceparent`), named after the
 * route pattern once it is known. Skipped while tracing is off.
 */
export function httpTracingMiddleware(request: Request, response: Response, next: NextFunction): void {
  // Tracing off (the default): nothing to record, so no span, no header parsing, no listener.
  if (!tracingActive()) {
    next();
    return;
  }
  const parent = contextFromHeaders(request.headers);
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan(
      `${request.method}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'url.path': request.path } },
      parent,
    );
  response.once('finish', () => {
    const route = routeLabel(request);
    span.updateName(`${request.method} ${route}`);
    span.setAttribute('http.route', route);
    span.setAttribute('http.response.status_code', response.statusCode);
    if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  context.with(trace.setSpan(parent, span), next);
}
