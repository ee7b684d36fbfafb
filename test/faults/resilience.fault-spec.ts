import fs from 'node:fs';
import path from 'node:path';
import { expectRollbackRestores, expectSettled, sleep, waitForOutput, waitStopped } from './support/invariants.js';
import { OwnPostgres, OwnRedis } from './support/services.js';
import { Stack } from './support/stack.js';
import { buildTree, mountTmpfs, snapshot } from './support/tree.js';

const FROZEN = (step: string) => ({ FO_CRASH_AT: step, FO_CRASH_SIGNAL: 'SIGSTOP' });

describe('crashes and frozen workers on the shared PostgreSQL and Redis', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.create();
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  }, 60_000);
  afterEach(async () => {
    for (const worker of stack.workers) worker.child.kill('SIGCONT');
    await stack.stopWorkers();
  });

  it('two crashes of one job: Bull fails it as stalled, the recovery pass resumes it from PostgreSQL', async () => {
    const user = await stack.signUp('twice');
    buildTree(user.root);
    const original = snapshot(user.root);
    const first = await stack.startWorker('crash-1', { FO_CRASH_AT: 'link:5' });
    const created = await stack.create(user, { type: 'organize', rootPath: 'inbox' });
    await stack.expectCrash(first);
    const second = await stack.startWorker('crash-2', { FO_CRASH_AT: 'link:5' });
    await stack.expectCrash(second);
    const started = Date.now();
    await stack.startWorker('survivor');
    const ended = await stack.waitForEnd(user, created.id, 120_000);
    expect(ended.status).toBe('completed');
    expect(Date.now() - started).toBeLessThan(120_000);
    await expectSettled(stack, user, created.id, original);
    await expectRollbackRestores(stack, user, created.id, original);
  });

  it.each(['same-fs', 'cross-fs'])(
    'a worker frozen between claiming a destination and unlinking the source (%s), past its lock: the next worker takes over, the frozen one wakes fenced, nothing moves twice',
    async (layout) => {
      const user = await stack.signUp('frozen');
      const cross = layout === 'cross-fs';
      const unmount = cross ? mountTmpfs(path.join(user.root, 'sorted'), '16m') : () => undefined;
      try {
        buildTree(user.root);
        const original = snapshot(user.root);
        const frozen = await stack.startWorker('frozen', FROZEN('link:5'));
        const created = await stack.create(user, {
          type: 'organize',
          rootPath: 'inbox',
          options: cross ? { destination: 'sorted' } : {},
        });
        await waitStopped(frozen);
        // Frozen past JOB_LOCK_MS (2 s): Bull's stalled check hands the job to the next worker.
        await stack.startWorker('taker');
        const ended = await stack.waitForEnd(user, created.id);
        expect(ended.status).toBe('completed');
        frozen.child.kill('SIGCONT');
        await waitForOutput(frozen, /claimed by another processor/);
        await sleep(1500);
        expect(frozen.child.exitCode).toBeNull();
        expect((await stack.get(user, created.id)).status).toBe('completed');
        await expectSettled(stack, user, created.id, original);
        await expectRollbackRestores(stack, user, created.id, original, cross ? 1000 : 1);
      } finally {
        unmount();
      }
    },
  );

  it('ENOSPC on the destination: the files that fit move, the others fail with ENOSPC and stay; no temp, rollback exact', async () => {
    const user = await stack.signUp('enospc');
    const unmount = mountTmpfs(path.join(user.root, 'small'), '64k');
    try {
      for (let i = 0; i < 30; i += 1) {
        fs.mkdirSync(path.join(user.root, 'big'), { recursive: true });
        fs.writeFileSync(path.join(user.root, `big/file${i}.bin`), Buffer.alloc(8192, i));
      }
      const original = snapshot(user.root);
      await stack.startWorker('worker');
      const created = await stack.create(user, {
        type: 'organize',
        rootPath: 'big',
        options: { destination: 'small' },
      });
      const ended = await stack.waitForEnd(user, created.id);
      expect(ended.status).toBe('completed');
      const { records } = await expectSettled(stack, user, created.id, original);
      const failed = records.filter((record) => record.status === 'failed');
      expect(failed.length).toBeGreaterThan(0);
      expect(records.filter((record) => record.status === 'moved').length).toBeGreaterThan(0);
      expect(new Set(failed.map((record) => record.error))).toEqual(new Set(['ENOSPC']));
      await expectRollbackRestores(stack, user, created.id, original, 1000);
    } finally {
      unmount();
    }
  });
});

describe('Redis SHUTDOWN NOSAVE and restart mid-operation (own redis-server)', () => {
  let redis: OwnRedis;
  let stack: Stack;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    stack = await Stack.create({ redisUrl: redis.url });
  }, 120_000);
  afterAll(async () => {
    for (const worker of stack?.workers ?? []) worker.child.kill('SIGCONT');
    await stack?.close();
    await redis?.stop();
  }, 60_000);

  it('answers 503 while Redis is down; the running and the queued operation are recovered from PostgreSQL', async () => {
    const user = await stack.signUp('redis');
    buildTree(user.root);
    fs.mkdirSync(path.join(user.root, 'second'), { recursive: true });
    for (let i = 0; i < 20; i += 1) fs.writeFileSync(path.join(user.root, `second/s${i}.txt`), `second ${i}`);
    const original = snapshot(user.root);
    const worker = await stack.startWorker('worker', FROZEN('link:5'));
    const running = await stack.create(user, { type: 'organize', rootPath: 'inbox' });
    await waitStopped(worker);
    const queued = await stack.create(user, { type: 'organize', rootPath: 'second' });

    await redis.shutdownNosave();
    expect((await stack.request('GET', '/health')).status).toBe(503);
    expect((await stack.request('GET', '/health/live')).status).toBe(200);
    const refused = await stack.request('POST', '/api/v1/operations', {
      token: user.token,
      body: { type: 'organize', rootPath: 'outside' },
    });
    expect(refused.status).toBe(503);
    expect(JSON.stringify(refused.body)).not.toMatch(/redis:\/\/|127\.0\.0\.1|ECONNREFUSED|at .*\.js/);
    // Every authenticated route counts against the rate limit in Redis: 503 too, never a 500.
    expect((await stack.request('GET', `/api/v1/operations/${running.id}`, { token: user.token })).status).toBe(503);

    await redis.startServer();
    worker.child.kill('SIGCONT');
    for (const id of [running.id, queued.id]) {
      const ended = await stack.waitForEnd(user, id, 120_000);
      expect(ended.status).toBe('completed');
    }
    expect(worker.child.exitCode).toBeNull();
    await expectSettled(stack, user, running.id, original, [queued.id]);
    const records = await stack.records(user, queued.id);
    expect(records.map((record) => record.status)).toEqual(new Array(20).fill('moved'));
    expect((await stack.request('GET', '/health')).status).toBe(200);
  });
});

describe('PostgreSQL restart -m immediate mid-operation (own cluster)', () => {
  let pg: OwnPostgres;
  let stack: Stack;

  beforeAll(async () => {
    pg = await OwnPostgres.start();
    stack = await Stack.create({ databaseUrl: pg.url });
  }, 180_000);
  afterAll(async () => {
    for (const worker of stack?.workers ?? []) worker.child.kill('SIGCONT');
    await stack?.close();
    await pg?.destroy();
  }, 60_000);

  it('stays up and answers 503 meanwhile, moves no file while the journal cannot be written, then resumes', async () => {
    const user = await stack.signUp('pg');
    buildTree(user.root);
    const original = snapshot(user.root);
    const worker = await stack.startWorker('worker', FROZEN('link:5'));
    const created = await stack.create(user, { type: 'organize', rootPath: 'inbox' });
    await waitStopped(worker);

    await pg.stopImmediate();
    // Frozen for longer than a lease check's interval (1 s): it re-checks before the next file.
    await sleep(1200);
    worker.child.kill('SIGCONT');
    for (const url of ['/health', `/api/v1/operations/${created.id}`, '/api/v1/operations']) {
      const answer = await stack.request('GET', url, { token: user.token });
      expect(answer.status).toBe(503);
      expect(JSON.stringify(answer.body)).not.toMatch(/SELECT|UPDATE|postgres:\/\/|ECONNREFUSED|at .*\.js/);
    }
    const login = await stack.request('POST', '/api/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'whatever it is' },
    });
    expect(login.status).toBe(503);
    expect((await stack.request('GET', '/health/live')).status).toBe(200);
    // The woken worker finishes the move it was in (its journal row is committed) and no other.
    await sleep(3000);
    const duringOutage = snapshot(user.root);
    await sleep(3000);
    expect([...snapshot(user.root).keys()].sort()).toEqual([...duringOutage.keys()].sort());
    const movedMeanwhile = [...duringOutage.keys()].filter((relative) => !original.has(relative));
    expect(movedMeanwhile.length).toBeLessThanOrEqual(5);
    expect(stack.api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();

    await pg.startServer();
    const ended = await stack.waitForEnd(user, created.id, 120_000);
    expect(ended.status).toBe('completed');
    await expectSettled(stack, user, created.id, original);
    await expectRollbackRestores(stack, user, created.id, original);
  });
});
