import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { expectRollbackRestores, expectSettled, sleep, waitForOutput, waitStopped } from './support/invariants.js';
import { OwnPostgres, OwnRedis } from './support/services.js';
import { Stack } from './support/stack.js';
import { buildTree, contentMultiset, mountTmpfs, snapshot, tempFiles, uniqueInodes } from './support/tree.js';

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

  it('a poison job killed at every run: the recovery gives up, every record is final, and rollback restores exactly', async () => {
    const user = await stack.signUp('poison');
    buildTree(user.root);
    const original = snapshot(user.root);
    let crashes = 0;
    let created: { id: string } | undefined;
    for (;;) {
      const worker = await stack.startWorker(`poison-${crashes}`, { FO_CRASH_AT: 'link:5' });
      created ??= await stack.create(user, { type: 'organize', rootPath: 'inbox' });
      const id = created.id;
      const ended = stack.waitForEnd(user, id, 120_000).then(() => 'ended' as const);
      const outcome = await Promise.race([worker.exited.then(() => 'crashed' as const), ended]);
      await stack.stopWorkers();
      if (outcome === 'ended') break;
      crashes += 1;
      expect(crashes).toBeLessThan(20);
    }
    // Bull retries a stalled job once; the recovery pass resumes a failed one MAX_AUTO_RESUMES (3) times.
    expect(crashes).toBe(8);
    const failed = await stack.get(user, created.id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.message).toMatch(/automatic resumes/);
    // No bytes lost and nothing planned; the last run's move may have left a file under both names
    // (one inode), which the rollback resolves.
    const after = snapshot(user.root);
    expect(tempFiles(after)).toEqual([]);
    expect(contentMultiset(uniqueInodes(after))).toEqual(contentMultiset(uniqueInodes(original)));
    const records = await stack.records(user, created.id);
    expect(records.filter((record) => record.status === 'planned')).toEqual([]);
    expect(records.filter((record) => record.error === 'interrupted').length).toBeGreaterThan(0);
    await stack.startWorker('rollback');
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
  let ownPg: OwnPostgres;
  let stack: Stack;

  beforeAll(async () => {
    ownPg = await OwnPostgres.start();
    stack = await Stack.create({ databaseUrl: ownPg.url });
  }, 180_000);
  afterEach(async () => {
    for (const worker of stack.workers) worker.child.kill('SIGCONT');
    await stack.stopWorkers();
  });
  afterAll(async () => {
    for (const worker of stack?.workers ?? []) worker.child.kill('SIGCONT');
    await stack?.close();
    await ownPg?.destroy();
  }, 60_000);

  it('stays up and answers 503 meanwhile, moves no file while the journal cannot be written, then resumes', async () => {
    const user = await stack.signUp('pg');
    buildTree(user.root);
    const original = snapshot(user.root);
    const worker = await stack.startWorker('worker', FROZEN('link:5'));
    const created = await stack.create(user, { type: 'organize', rootPath: 'inbox' });
    await waitStopped(worker);

    await ownPg.stopImmediate();
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

    await ownPg.startServer();
    const ended = await stack.waitForEnd(user, created.id, 120_000);
    expect(ended.status).toBe('completed');
    await expectSettled(stack, user, created.id, original);
    await expectRollbackRestores(stack, user, created.id, original);
  });

  it("a blip (the worker's connections terminated, the database back at once) is resumed, not failed half-recorded", async () => {
    const user = await stack.signUp('blip');
    buildTree(user.root);
    const original = snapshot(user.root);
    const worker = await stack.startWorker('blip-worker', FROZEN('link:5'));
    const created = await stack.create(user, { type: 'organize', rootPath: 'inbox' });
    await waitStopped(worker);
    const client = new pg.Client({ connectionString: ownPg.url });
    await client.connect();
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    await client.end();
    await sleep(1200);
    worker.child.kill('SIGCONT');
    const ended = await stack.waitForEnd(user, created.id, 120_000);
    expect(ended.status).toBe('completed');
    await expectSettled(stack, user, created.id, original);
    await expectRollbackRestores(stack, user, created.id, original);
  });
});
