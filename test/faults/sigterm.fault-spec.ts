import fs from 'node:fs';
import path from 'node:path';
import { MOVE_BATCH } from '../../src/modules/operations/runners/run-context.js';
import { expectRollbackRestores, expectSettled, waitStopped } from './support/invariants.js';
import { Stack } from './support/stack.js';
import type { OperationBody, StackUser } from './support/stack.js';
import { buildTree, exactView, snapshot, tempFiles } from './support/tree.js';
import type { Entry } from './support/tree.js';

/** Extra files, so an operation spans three move batches and a stop in the second leaves the third. */
const BULK_FILES = 2 * MOVE_BATCH + 400;
/** The move frozen at: in the second batch. */
const FREEZE_AT = `link:${MOVE_BATCH + 500}`;
/** A stopping worker ends its batch and exits well within this (a container runtime's default grace is 30 s). */
const EXIT_WITHIN_MS = 30_000;

/**
 * Graceful shutdown: SIGTERM reaches a worker in the middle of a move (frozen with SIGSTOP right
 * after link() put the file at its destination, before unlink() removed its source, then sent
 * SIGTERM and SIGCONT). The worker must finish the batch it is in, hand the rest back to the
 * queue and exit by itself; a second worker resumes the operation from the journal and completes
 * it with nothing lost. Before this was handled, a stopping worker waited for the whole operation.
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
    expect(planned).toBeLessThan(records.length - MOVE_BATCH);

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
