import { Redis } from 'ioredis';
import fs from 'node:fs';
import path from 'node:path';
import { LOCAL_MOVE_BATCH } from '../../src/modules/operations/runners/run-context.js';
import { BucketFolder, startS3rver } from '../utils/s3.js';
import type { S3rverHandle } from '../utils/s3.js';
import { expectRollbackRestores, expectSettled, waitStopped } from './support/invariants.js';
import { Stack } from './support/stack.js';
import type { OperationBody, StackUser } from './support/stack.js';
import { buildTree, exactView, snapshot, tempFiles } from './support/tree.js';
import type { Entry } from './support/tree.js';

/**
 * Extra files, so an operation spans four local move batches and a stop in the second leaves two
 * (synchronous local moves notice the signal at the end of their batch).
 */
const BULK_FILES = 3 * LOCAL_MOVE_BATCH + 400;
/** The move frozen at: in the second batch. */
const FREEZE_AT = `link:${LOCAL_MOVE_BATCH + 500}`;
/** A stopping worker ends its batch and exits well within this (a container runtime's default grace is 30 s). */
const EXIT_WITHIN_MS = 30_000;

/**
 * Graceful shutdown: SIGTERM reaches a worker in the middle of a move (frozen with SIGSTOP right
 * after link() put the file at its destination, before unlink() removed its source, then sent
 * SIGTERM and SIGCONT). The worker must finish the batch it is in, hand the rest back to the
 * queue and exit by itself; a second worker resumes the operation from the
 * journal and completes it with nothing lost. Before this was handled, a stopping worker waited for the whole operation.
 */
describe('SIGTERM mid-move: the worker releases the operation and exits, another completes it', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.create();
  }, 120_000);
  afterEach(async () => {
    for (const worker of stack?.workers ?? []) worker.child.kill('SIGCONT');
    await stack?.stopWorkers();
  });
  afterAll(async () => {
    await stack?.close();
  }, 60_000);

  async function waitingJobs(): Promise<string[]> {
    const redis = new Redis(stack.env.REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      return await redis.lrange(`${stack.env.REDIS_PREFIX}:bull:operations:wait`, 0, -1);
    } finally {
      redis.disconnect();
    }
  }

  function buildBigTree(user: StackUser): Map<string, Entry> {
    buildTree(user.root);
    const bulk = path.join(user.root, 'inbox/bulk');
    fs.mkdirSync(bulk, { recursive: true });
    for (let i = 0; i < BULK_FILES; i += 1) fs.writeFileSync(path.join(bulk, `b${i}.txt`), `bulk file ${i}\n`);
    return snapshot(user.root);
  }

  /**
   * Starts a worker that freezes mid-move, runs `start` on it, sends SIGTERM (then SIGCONT) and
   * expects it to exit by itself, releasing the operation unfinished; then starts a fresh worker.
   */
  async function stopDuring(user: StackUser, start: () => Promise<OperationBody>): Promise<OperationBody> {
    await stack.stopWorkers();
    const worker = await stack.startWorker('sigterm', { FO_CRASH_AT: FREEZE_AT, FO_CRASH_SIGNAL: 'SIGSTOP' });
    const created = await start();
    await waitStopped(worker);
    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    worker.child.kill('SIGCONT');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), EXIT_WITHIN_MS).unref());
    const ended = await Promise.race([worker.exited, timer]);
    if (ended === 'timeout') throw new Error(`worker did not exit within ${EXIT_WITHIN_MS} ms:\n${worker.output()}`);
    // Nest re-raises the signal once its shutdown hooks are done: an exit by SIGTERM is a clean one.
    expect(ended.signal === 'SIGTERM' || ended.code === 0).toBe(true);
    const exitMs = Date.now() - signalled;
    process.stdout.write(`worker exited ${exitMs} ms after SIGTERM\n`);
    expect(worker.output()).toMatch(/released: this worker is stopping/);

    // Released, not finished: still running, part of it done and recorded, the rest still planned.
    const released = await stack.get(user, created.id);
    expect(released.status).toBe('running');
    const records = await stack.records(user, created.id);
    const planned = records.filter((record) => record.status === 'planned').length;
    expect(planned).toBeGreaterThan(0);
    expect(planned).toBeLessThan(records.length - LOCAL_MOVE_BATCH);
    // Put back in the queue by the stopping worker itself (job id = operation id), waiting for the
    // next worker: not left for the recovery pass, which would spend one of its automatic resumes.
    expect(await waitingJobs()).toContain(created.id);

    await stack.startWorker('after-sigterm');
    return created;
  }

  it('organize: a second worker completes it; every file where the journal says, nothing lost', async () => {
    const user = await stack.signUp('sigterm-organize');
    const original = buildBigTree(user);
    const target = await stopDuring(user, () => stack.create(user, { type: 'organize', rootPath: 'inbox' }));
    const ended = await stack.waitForEnd(user, target.id, 120_000);
    expect(ended.status).toBe('completed');
    const { records } = await expectSettled(stack, user, target.id, original);
    expect(records.filter((record) => record.status === 'failed')).toEqual([]);
    expect(records.filter((record) => record.status === 'moved').length).toBeGreaterThan(BULK_FILES);
    await expectRollbackRestores(stack, user, target.id, original);
  });

  it('rollback: a second worker completes it and the tree is exactly as before the organize', async () => {
    const user = await stack.signUp('sigterm-rollback');
    const original = buildBigTree(user);
    await stack.startWorker('setup');
    const organized = await stack.waitForEnd(
      user,
      (await stack.create(user, { type: 'organize', rootPath: 'inbox' })).id,
    );
    expect(organized.status).toBe('completed');
    const target = await stopDuring(user, () => stack.rollback(user, organized.id));
    const ended = await stack.waitForEnd(user, target.id, 120_000);
    expect(ended.status).toBe('completed');
    const records = await stack.records(user, target.id);
    expect(records.filter((record) => record.status !== 'restored')).toEqual([]);
    const after = snapshot(user.root);
    expect(tempFiles(after)).toEqual([]);
    expect(exactView(after)).toEqual(exactView(original));
  });
});

/**
 * The same on S3 (s3rver): frozen right after a server-side copy, before the source's delete.
 * One batch of 60 objects: the worker finishes the batch it is in (its S3 client stays open until
 * the jobs have ended) and the operation ends completed, on this worker or the next.
 */
describe('SIGTERM mid-move on S3: nothing lost, the operation completes', () => {
  let s3: S3rverHandle;
  let stack: Stack;

  beforeAll(async () => {
    s3 = await startS3rver();
    stack = await Stack.create({ env: s3.env });
  }, 120_000);
  afterEach(async () => {
    for (const worker of stack?.workers ?? []) worker.child.kill('SIGCONT');
    await stack?.stopWorkers();
  });
  afterAll(async () => {
    await stack?.close();
    await s3?.stop();
  }, 60_000);

  it('organize on S3: the worker exits by itself; every object moved once, rollback restores every key', async () => {
    const user = await stack.signUp('sigterm-s3');
    const bucket = new BucketFolder(s3, user.id);
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i += 1) files[`tree/d${i % 4}/f${i}.${['jpg', 'txt', 'mp3'][i % 3]}`] = `c${i}`;
    await bucket.put(files, 1_700_000_000_123);
    const before = await bucket.manifest();

    const worker = await stack.startWorker('sigterm', { FO_CRASH_AT: 'copy:20', FO_CRASH_SIGNAL: 'SIGSTOP' });
    const target = await stack.create(user, { type: 'organize', storage: 's3', rootPath: 'tree' });
    await waitStopped(worker);
    worker.child.kill('SIGTERM');
    worker.child.kill('SIGCONT');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), EXIT_WITHIN_MS).unref());
    const ended = await Promise.race([worker.exited, timer]);
    if (ended === 'timeout') throw new Error(`worker did not exit within ${EXIT_WITHIN_MS} ms:\n${worker.output()}`);
    expect(ended.signal === 'SIGTERM' || ended.code === 0).toBe(true);

    await stack.startWorker('after-sigterm');
    const done = await stack.waitForEnd(user, target.id);
    expect(done.status).toBe('completed');
    const records = await stack.records(user, target.id);
    expect(records.filter((record) => record.status !== 'moved')).toEqual([]);
    const after = await bucket.manifest();
    expect(Object.values(after).sort()).toEqual(Object.values(before).sort());
    for (const record of records) {
      expect(after[record.destinationPath as string]).toBe(before[record.sourcePath]);
      expect(after[record.sourcePath]).toBeUndefined();
    }
    const rollback = await stack.rollback(user, target.id);
    expect((await stack.waitForEnd(user, rollback.id)).status).toBe('completed');
    expect(await bucket.manifest()).toEqual(before);
  });
});
