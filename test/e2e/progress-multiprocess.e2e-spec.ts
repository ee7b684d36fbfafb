import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt, startBuiltApp, stopApp, threadNiceness } from '../utils/processes.js';
import type { AppProcess } from '../utils/processes.js';
import { connectSocket, recordEvents, subscribe, terminalEvent, until } from '../utils/sockets.js';
import type { ProgressClient, ReceivedEvent } from '../utils/sockets.js';
import { cloneTemplateDatabase, dropDatabase } from '../utils/test-database.js';
import { writeTree } from '../utils/operations.js';

/**
 * The built service as separate processes, as deployed: two API-only instances and a worker-only
 * one on one database and one Redis prefix. JOB_LOCK_MS is short so that a killed worker's job is
 * picked up by the next worker within seconds (Bull's stalled-job check) instead of 30 s.
 */
describe('API and worker processes (built app)', () => {
  const id = randomBytes(5).toString('hex');
  const databaseName = `fileorganizer_test_mp_${id}`;
  const redisPrefix = `fotest:${id}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  let storageRoot: string;
  let env: Record<string, string>;
  let api1: AppProcess;
  let api2: AppProcess;
  const workers: AppProcess[] = [];
  const sockets: ProgressClient[] = [];
  let token: string;
  let userRoot: string;

  const started = () => [api1, api2, ...workers].filter(Boolean);
  const logs = () =>
    started()
      .map((app) => `--- ${app.name}\n${app.output()}`)
      .join('\n');

  async function http(app: AppProcess, method: string, url: string, body?: unknown): Promise<Response> {
    return fetch(`${app.url}${url}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async function json<T = Record<string, unknown>>(response: Response, expected: number): Promise<T> {
    const text = await response.text();
    if (response.status !== expected) throw new Error(`expected ${expected}, got ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  function expectNoGaps(events: ReceivedEvent[], after: number): void {
    const seqs = events.map((e) => e.payload.seq);
    expect(seqs).toEqual(seqs.map((_, index) => after + index + 1));
  }

  beforeAll(async () => {
    ensureBuilt();
    storageRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-mp-storage-'));
    env = {
      NODE_ENV: 'test',
      DATABASE_URL: await cloneTemplateDatabase(databaseName),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      STORAGE_LOCAL_ROOT: storageRoot,
      JWT_SECRET: randomBytes(32).toString('hex'),
      JOB_LOCK_MS: '2000',
      WORKER_CONCURRENCY: '2',
    };
    [api1, api2] = await Promise.all([
      startBuiltApp('api-1', { ...env, APP_ROLE: 'api' }),
      startBuiltApp('api-2', { ...env, APP_ROLE: 'api' }),
    ]);
    const signup = await fetch(`${api1.url}/api/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `mp-${id}@example.com`, password: 'correct horse battery' }),
    });
    const body = await json<{ accessToken: string; user: { id: string } }>(signup, 201);
    token = body.accessToken;
    userRoot = path.join(storageRoot, body.user.id);
  }, 120_000);

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all(started().map((app) => stopApp(app, 5000)));
    await dropDatabase(databaseName);
    fs.rmSync(storageRoot, { recursive: true, force: true });
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${redisPrefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }, 60_000);

  it('an API instance runs no jobs; a client on API #2 sees an operation created through API #1 progress to the end', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i += 1) files[`small/d${i % 7}/f${i}.${['jpg', 'txt', 'mp3'][i % 3]}`] = `s${i}`;
    writeTree(userRoot, files);
    const created = await json<{ id: string }>(
      await http(api1, 'POST', '/api/v1/operations', { type: 'organize', rootPath: 'small' }),
      202,
    );
    const socket = await connectSocket(api2.url, { token });
    sockets.push(socket);
    const events = recordEvents(socket);
    const ack = await subscribe(socket, created.id);
    expect(ack).toMatchObject({ ok: true, operation: { id: created.id, status: 'pending' }, seq: 0 });
    // No worker yet: the API instances leave it pending.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(
      (await json<{ status: string }>(await http(api1, 'GET', `/api/v1/operations/${created.id}`), 200)).status,
    ).toBe('pending');
    expect(events).toEqual([]);

    const worker = await startBuiltApp('worker-1', { ...env, APP_ROLE: 'worker' });
    workers.push(worker);
    // The worker serves health only.
    expect((await fetch(`${worker.url}/health/live`)).status).toBe(200);
    expect((await http(worker, 'GET', '/api/v1/operations')).status).toBe(404);
    expect((await fetch(`${worker.url}/docs-json`)).status).toBe(404);
    await expect(connectSocket(worker.url, { token })).rejects.toThrow();

    const end = await until(() => terminalEvent(events, created.id), 30_000, `the end (logs:\n${logs()})`);
    // WORKER_NICE (10 by default): every thread of the worker, those started for the job included,
    // yields to the API instances, whose threads keep the niceness they were started with.
    const started = os.getPriority();
    expect(new Set(threadNiceness(worker.child.pid!))).toEqual(new Set([Math.max(started, 10)]));
    expect(new Set(threadNiceness(api1.child.pid!))).toEqual(new Set([started]));
    expectNoGaps(events, 0);
    expect(events[0]).toMatchObject({ event: 'operation.status', payload: { status: 'running' } });
    const fetched = await json<{ status: string; progress: unknown }>(
      await http(api1, 'GET', `/api/v1/operations/${created.id}`),
      200,
    );
    expect(end.payload).toMatchObject({ status: 'completed', progress: fetched.progress });
    expect(fetched.status).toBe('completed');
  }, 120_000);

  it('SIGKILL the worker mid-job: another worker resumes it and the client gets the end, seq continuing', async () => {
    const total = 12_000;
    const files: Record<string, string> = {};
    for (let i = 0; i < total; i += 1) files[`big/d${i % 50}/f${i}.${['jpg', 'txt', 'mp3', 'zip'][i % 4]}`] = `b${i}`;
    writeTree(userRoot, files);
    const socket = await connectSocket(api2.url, { token });
    sockets.push(socket);
    const events = recordEvents(socket);
    const created = await json<{ id: string }>(
      await http(api1, 'POST', '/api/v1/operations', { type: 'organize', rootPath: 'big' }),
      202,
    );
    const ack = await subscribe(socket, created.id);
    expect(ack.ok).toBe(true);

    const moving = (e: ReceivedEvent) => {
      const progress = e.payload.progress as { phase: string; filesProcessed: number } | undefined;
      return progress?.phase === 'moving' && progress.filesProcessed >= 200;
    };
    await until(() => events.find(moving), 60_000, `moves to start (logs:\n${logs()})`);
    workers[0].child.kill('SIGKILL');
    await workers[0].exited;
    const seenBeforeKill = events.length;
    const atKill = events[events.length - 1].payload as { seq: number; progress?: { filesProcessed: number } };
    expect(atKill.progress?.filesProcessed ?? 0).toBeLessThan(total);
    expect(terminalEvent(events, created.id)).toBeUndefined();

    workers.push(await startBuiltApp('worker-2', { ...env, APP_ROLE: 'worker' }));
    const end = await until(
      () => terminalEvent(events, created.id),
      60_000,
      `the end after the kill (logs:\n${logs()})`,
    );
    // Events delivered to the client before the ack may be older than its snapshot; from there on, no gap.
    const afterAck = events.filter((e) => e.payload.seq > (ack.seq ?? 0));
    expectNoGaps(afterAck, ack.seq ?? 0);
    expect(events.length).toBeGreaterThan(seenBeforeKill);
    // The new worker claimed it again: a second `running`, numbered after what the dead worker sent.
    const resumed = events.slice(seenBeforeKill).find((e) => e.event === 'operation.status');
    expect(resumed?.payload).toMatchObject({ status: 'running' });
    expect(resumed!.payload.seq).toBeGreaterThan(atKill.seq);
    const fetched = await json<{ status: string; progress: { filesProcessed: number; filesTotal: number } }>(
      await http(api1, 'GET', `/api/v1/operations/${created.id}`),
      200,
    );
    expect(end.payload).toMatchObject({ status: 'completed', progress: fetched.progress });
    expect(fetched.progress).toMatchObject({ filesTotal: total, filesProcessed: total, errors: 0 });
  }, 120_000);

  it('SIGTERM: a worker takes no new job, hands its running one back after a batch, exits; the next worker completes it; an API instance exits promptly', async () => {
    const total = 15_000;
    const files: Record<string, string> = {};
    for (let i = 0; i < total; i += 1) files[`drain/d${i % 40}/f${i}.${['jpg', 'txt'][i % 2]}`] = `d${i}`;
    writeTree(userRoot, files);
    writeTree(userRoot, { 'later/a.txt': 'a' });
    const worker = workers[workers.length - 1];
    const socket = await connectSocket(api2.url, { token });
    sockets.push(socket);
    const events = recordEvents(socket);
    const running = await json<{ id: string }>(
      await http(api1, 'POST', '/api/v1/operations', { type: 'organize', rootPath: 'drain' }),
      202,
    );
    expect((await subscribe(socket, running.id)).ok).toBe(true);
    await until(
      () => events.find((e) => (e.payload.progress as { phase?: string } | undefined)?.phase === 'moving'),
      60_000,
      `moves to start (logs:\n${logs()})`,
    );
    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    await until(() => worker.output().includes('taking no more jobs'), 10_000, 'the worker to stop taking jobs');
    // Bull aborts an idle slot's blocking wait for the next job within about half a second (a job
    // fetched before that is put back unclaimed).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const later = await json<{ id: string }>(
      await http(api1, 'POST', '/api/v1/operations', { type: 'organize', rootPath: 'later' }),
      202,
    );
    const exit = await worker.exited;
    expect(exit.signal).toBe('SIGTERM');
    // A batch (at most 1,000 moves) is not a whole operation: the stop does not wait for 15,000 moves.
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(worker.output()).toContain('released: this worker is stopping');
    // It handed the running operation back unfinished...
    expect(terminalEvent(events, running.id)).toBeUndefined();
    const released = await json<{ status: string; progress: { filesProcessed: number } }>(
      await http(api1, 'GET', `/api/v1/operations/${running.id}`),
      200,
    );
    expect(released.status).toBe('running');
    expect(released.progress.filesProcessed).toBeLessThan(total);
    // ...and took no new one.
    const waiting = await json<{ status: string }>(await http(api1, 'GET', `/api/v1/operations/${later.id}`), 200);
    expect(waiting.status).toBe('pending');

    // The next worker resumes it from the journal at once (the job is back in the queue, no lock to lapse).
    workers.push(await startBuiltApp('worker-3', { ...env, APP_ROLE: 'worker' }));
    await until(() => terminalEvent(events, running.id), 60_000, `the end after the stop (logs:\n${logs()})`);
    expect(terminalEvent(events, running.id)?.payload).toMatchObject({
      status: 'completed',
      progress: { filesProcessed: total, errors: 0 },
    });

    const begin = Date.now();
    await stopApp(api1, 15_000);
    expect(Date.now() - begin).toBeLessThan(10_000);
    expect((await api1.exited).signal).toBe('SIGTERM');
    // API #2 still serves.
    expect((await fetch(`${api2.url}/health`)).status).toBe(200);
  }, 180_000);
});
