import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import fs from 'node:fs';
import { userFolder, waitForOperation, writeTree } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { TestApp } from '../utils/test-app.js';
import { startTracing } from '../../src/tracing/tracing.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';

describe('tracing (OpenTelemetry, in-memory exporter)', () => {
  let t: TestApp;
  const exporter = new InMemorySpanExporter();

  beforeAll(async () => {
    await startTracing({ serviceName: 'fileorganizer-test', exporter });
    t = await createTestApp();
  });
  afterAll(async () => {
    // Closing the app shuts tracing down (TracingModule).
    await t.close();
  });

  const spans = () => exporter.getFinishedSpans();
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  it("continues the caller's trace over HTTP and into the worker's job through the job data", async () => {
    const user = await signUp(t);
    fs.mkdirSync(userFolder(t, user), { recursive: true });
    writeTree(userFolder(t, user), { 'inbox/a.jpg': 'a' });
    const response = await t
      .http()
      .post('/api/v1/operations')
      .set('Authorization', `Bearer ${user.accessToken}`)
      .set('traceparent', `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`)
      .send({ type: 'organize', rootPath: 'inbox' })
      .expect(202);
    await waitForOperation(t, user, response.body.id);
    for (let i = 0; i < 100 && !spans().some((span) => span.name === 'operation.run'); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const http = spans().find((span) => span.name === 'POST /api/v1/operations');
    expect(http).toBeDefined();
    expect(http!.spanContext().traceId).toBe(TRACE_ID);
    expect(parentOf(http!)).toBe(CALLER_SPAN_ID);
    expect(http!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/api/v1/operations',
      'http.response.status_code': 202,
    });
    expect(http!.resource.attributes['service.name']).toBe('fileorganizer-test');

    const job = spans().find((span) => span.name === 'operation.run');
    expect(job).toBeDefined();
    expect(job!.spanContext().traceId).toBe(TRACE_ID);
    expect(parentOf(job!)).toBe(http!.spanContext().spanId);
    expect(job!.attributes['operation.id']).toBe(response.body.id);
    expect(job!.endTime[0]).toBeGreaterThan(0);
  });

  it('starts a new trace for a request without one, named by route pattern, never by raw path', async () => {
    const user = await signUp(t);
    exporter.reset();
    await t
      .http()
      .get('/api/v1/operations/00000000-0000-4000-8000-000000000000')
      .set('Authorization', `Bearer ${user.accessToken}`)
      .expect(404);
    const span = spans().find((candidate) => candidate.name.startsWith('GET '));
    expect(span?.name).toBe('GET /api/v1/operations/:id');
    expect(span?.spanContext().traceId).not.toBe(TRACE_ID);
    expect(parentOf(span!)).toBeUndefined();
    expect(span?.attributes['http.response.status_code']).toBe(404);
  });
});
