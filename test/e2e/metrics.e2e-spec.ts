import fs from 'node:fs';
import { organize, userFolder, writeTree } from '../utils/operations.js';
import { connectSocket } from '../utils/sockets.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  let t: TestApp;
  let user: SignedUpUser;

  beforeAll(async () => {
    t = await createTestApp();
    user = await signUp(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it('exposes HTTP, operation, queue, job, file and process metrics in Prometheus text after one organize', async () => {
    const root = userFolder(t, user);
    fs.mkdirSync(root, { recursive: true });
    writeTree(root, {
      'inbox/a.jpg': 'same bytes',
      'inbox/b.jpg': 'same bytes',
      'inbox/c.pdf': 'pdf',
    });
    const operation = await organize(t, user, { rootPath: 'inbox' });
    expect(operation.status).toBe('completed');
    await t.http().get('/api/v1/nothing-here').set('Authorization', `Bearer ${user.accessToken}`).expect(404);

    const response = await t.http().get('/metrics').expect(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = response.text;
    const names = new Set(
      text
        .split('\n')
        .filter((line) => line.startsWith('# TYPE '))
        .map((line) => line.split(' ')[2]),
    );
    for (const name of names) expect(name.startsWith('fileorganizer_')).toBe(true);

    expect(
      sample(
        text,
        'fileorganizer_http_request_duration_seconds_count{method="POST",route="/api/v1/operations",status_code="202"}',
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        'fileorganizer_http_request_duration_seconds_count{method="GET",route="/api/v1/operations/:id",status_code="200"}',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(
        text,
        'fileorganizer_http_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"}',
      ),
    ).toBe(1);
    // Raw paths (with ids) never become labels.
    expect(text).not.toContain(operation.id);

    expect(sample(text, 'fileorganizer_operations{type="organize",status="completed"}')).toBe(1);
    expect(sample(text, 'fileorganizer_queue_jobs{queue="operations",state="waiting"}')).toBe(0);
    expect(sample(text, 'fileorganizer_queue_jobs{queue="operations",state="active"}')).toBe(0);
    expect(sample(text, 'fileorganizer_queue_jobs{queue="operations",state="failed"}')).toBe(0);
    expect(sample(text, 'fileorganizer_job_duration_seconds_count{type="organize",status="completed"}')).toBe(1);
    expect(sample(text, 'fileorganizer_operation_jobs_total{type="organize",status="completed"}')).toBe(1);
    expect(sample(text, 'fileorganizer_files_moved_total{type="organize"}')).toBe(3);
    expect(sample(text, 'fileorganizer_bytes_hashed_total')).toBeGreaterThanOrEqual(20);
    expect(text).toContain('# TYPE fileorganizer_socket_connections gauge');
    expect(sample(text, 'fileorganizer_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE fileorganizer_nodejs_eventloop_lag_seconds gauge');

    // A rollback counts its restored files under its own type.
    await t
      .http()
      .post(`/api/v1/operations/${operation.id}/rollback`)
      .set('Authorization', `Bearer ${user.accessToken}`)
      .expect(202);
    for (let i = 0; i < 200; i += 1) {
      const again = await t.http().get('/metrics').expect(200);
      if (sample(again.text, 'fileorganizer_files_moved_total{type="rollback"}') === 3) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the rollback did not show up in fileorganizer_files_moved_total');
  });

  it('counts the Socket.IO connections that are open, as real clients connect and leave', async () => {
    const gauge = 'fileorganizer_socket_connections{namespace="/operations"}';
    const read = async () => sample((await t.http().get('/metrics').expect(200)).text, gauge) ?? 0;
    /** The gauge moves when the server sees the (dis)connection, a moment after the client does. */
    const expectGauge = async (expected: number) => {
      for (let attempt = 0; attempt < 100 && (await read()) !== expected; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await read()).toBe(expected);
    };
    await expectGauge(0);
    const sockets = await Promise.all([1, 2, 3].map(() => connectSocket(t.url, { token: user.accessToken })));
    await expectGauge(3);
    // A refused handshake is no connection.
    await expect(connectSocket(t.url, { token: 'not-a-token' })).rejects.toThrow('unauthorized');
    await expectGauge(3);
    sockets[0].close();
    sockets[1].close();
    await expectGauge(1);
    sockets[2].close();
    await expectGauge(0);
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ METRICS_TOKEN: 'scrape-secret-0123456789' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('needs the bearer token', async () => {
    const refused = await t.http().get('/metrics').expect(401);
    expect(refused.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    await t.http().get('/metrics').set('Authorization', 'Bearer wrong').expect(401);
    const ok = await t.http().get('/metrics').set('Authorization', 'Bearer scrape-secret-0123456789').expect(200);
    expect(ok.text).toContain('fileorganizer_http_request_duration_seconds');
  });
});
