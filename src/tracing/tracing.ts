import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

export const TRACER_NAME = 'fileorganizer';

/** W3C trace context carried in a job's data, so the worker's spans join the request's trace. */
export type TraceCarrier = Record<string, string>;

export interface TracingOptions {
  serviceName: string;
  /** Spans go here (tests: an in-memory exporter); otherwise OTLP over HTTP to OTEL_EXPORTER_OTLP_ENDPOINT. */
  exporter?: SpanExporter;
}

export interface TracingHandle {
  shutdown(): Promise<void>;
}

let active: TracingHandle | undefined;

/** Whether startTracing ran (and shutdownTracing has not): without it every span is a no-op. */
export function tracingActive(): boolean {
  return active !== undefined;
}

/** Flushes and stops tracing, if it runs (the app calls this when it shuts down). */
export async function shutdownTracing(): Promise<void> {
  const handle = active;
  active = undefined;
  await handle?.shutdown();
}

/**
 * Starts tracing for this process: a tracer provider, the W3C propagator and an AsyncLocalStorage
 * context manager. Off unless called: main.ts calls it only when OTEL_EXPORTER_OTLP_ENDPOINT is
 * set; without it every span below is a no-op. PostgreSQL (pg) and Redis (ioredis) spans come from
 * their instrumentations, registered here before the app loads those libraries.
 */
export async function startTracing(options: TracingOptions): Promise<TracingHandle> {
  let processor: SpanProcessor;
  if (options.exporter) {
    processor = new SimpleSpanProcessor(options.exporter);
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    processor = new BatchSpanProcessor(new OTLPTraceExporter());
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [processor],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);

  let disableInstrumentations = (): void => undefined;
  if (!options.exporter) {
    const [{ registerInstrumentations }, { PgInstrumentation }, { IORedisInstrumentation }] = await Promise.all([
      import('@opentelemetry/instrumentation'),
      import('@opentelemetry/instrumentation-pg'),
      import('@opentelemetry/instrumentation-ioredis'),
    ]);
    disableInstrumentations = registerInstrumentations({
      tracerProvider: provider,
      instrumentations: [
        new PgInstrumentation({ requireParentSpan: true }),
        new IORedisInstrumentation({ requireParentSpan: true }),
      ],
    });
  }
  active = {
    async shutdown() {
      disableInstrumentations();
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
  return active;
}

function tracer() {
  return trace.getTracer(TRACER_NAME);
}

/** The current trace context as a carrier for a job's data (empty when nothing is traced). */
export function currentTraceCarrier(): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

export function contextFromHeaders(headers: Record<string, unknown>): Context {
  return propagation.extract(context.active(), headers);
}

/** Runs `fn` in a new span (child of `parent`, else of the active span), recording a thrown error. */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean>; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(
    name,
    { kind: options.kind, attributes: options.attributes },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** The span of one job, joined to the trace of the request that created the operation. */
export function inJobSpan<T>(
  name: string,
  carrier: TraceCarrier | undefined,
  attributes: Record<string, string | number | boolean>,
  fn: () => Promise<T>,
): Promise<T> {
  const parent = carrier ? propagation.extract(context.active(), carrier) : context.active();
  return inSpan(name, { kind: SpanKind.CONSUMER, attributes, parent }, () => fn());
}

export { SpanKind };
