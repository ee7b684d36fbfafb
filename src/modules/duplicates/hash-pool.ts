import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { FileHasher, type HashBatch, type HashBatchResult } from './file-hasher.js';

/**
 * Runs hash batches on worker threads, or on the calling thread when no worker can run.
 *
 * Why a compiled worker file with an in-thread fallback (and not an eval string or a hand-written
 * .mjs): the worker is ordinary TypeScript (type-checked and linted like the rest) that tsc
 * compiles to dist/.../hash.worker.js next to this module, so the built service loads it with
 * `new URL('./hash.worker.js', import.meta.url)` and nothing to copy. Under Jest the sources are
 * .ts files that a worker thread cannot load: the file does not exist there, and the same
 * FileHasher runs on the calling thread, one batch per event-loop turn. The threaded path is
 * tested too, against a copy of the worker that the spec compiles with SWC. A worker that dies
 * mid-run hands its batches back; if none is left, the calling thread finishes the work.
 */

export interface HashPoolOptions {
  threads: number;
  workerUrl: URL;
  signal?: AbortSignal;
  onResult: (result: HashBatchResult) => void;
}

/** Batches each worker holds at once, so that it never waits for the next message. */
const IN_FLIGHT_PER_WORKER = 2;

export function defaultWorkerUrl(): URL {
  return new URL('./hash.worker.js', import.meta.url);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

function workerLoadable(url: URL): boolean {
  try {
    return url.protocol === 'file:' && existsSync(fileURLToPath(url));
  } catch {
    return false;
  }
}

/** Returns the number of worker threads that hashed at least one batch. */
export async function runHashBatches(batches: readonly HashBatch[], options: HashPoolOptions): Promise<number> {
  const { signal } = options;
  if (signal?.aborted) throw abortReason(signal);
  // Popped from the end: the first batch runs first.
  const pending = [...batches].reverse();
  const wanted = Math.min(Math.max(0, Math.floor(options.threads)), batches.length);
  let threadsUsed = 0;
  if (wanted > 0 && workerLoadable(options.workerUrl)) {
    threadsUsed = await runOnWorkers(pending, wanted, options);
  }
  if (pending.length > 0) await runInThread(pending, options);
  return threadsUsed;
}

async function runInThread(pending: HashBatch[], options: HashPoolOptions): Promise<void> {
  const { signal } = options;
  const hasher = new FileHasher();
  const stop = (): boolean => signal?.aborted ?? false;
  for (let batch = pending.pop(); batch; batch = pending.pop()) {
    if (signal?.aborted) throw abortReason(signal);
    const result = hasher.hashBatch(batch, stop);
    if (result.stopped && signal) throw abortReason(signal);
    options.onResult(result);
    // Keep the event loop (Bull's lock renewal, progress events) alive between batches.
    await yieldToEventLoop();
  }
}

interface PoolWorker {
  worker: Worker;
  inFlight: HashBatch[];
  dead: boolean;
  used: boolean;
}

function runOnWorkers(pending: HashBatch[], count: number, options: HashPoolOptions): Promise<number> {
  const { signal } = options;
  return new Promise<number>((resolve, reject) => {
    const pool: PoolWorker[] = [];
    let settled = false;

    const finish = (error?: { reason: unknown }): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      for (const member of pool) {
        member.dead = true;
        void member.worker.terminate();
      }
      if (error) reject(error.reason);
      else resolve(pool.filter((m) => m.used).length);
    };

    const onAbort = (): void => finish({ reason: abortReason(signal!) });

    const feed = (member: PoolWorker): void => {
      while (!member.dead && member.inFlight.length < IN_FLIGHT_PER_WORKER && pending.length > 0) {
        const batch = pending.pop()!;
        member.inFlight.push(batch);
        member.worker.postMessage(batch);
      }
    };

    const checkDone = (): void => {
      const alive = pool.filter((m) => !m.dead);
      const busy = alive.some((m) => m.inFlight.length > 0);
      // All done, or no worker left: the caller runs what is still pending on its own thread.
      if ((pending.length === 0 && !busy) || alive.length === 0) finish();
    };

    const fail = (member: PoolWorker): void => {
      if (member.dead || settled) return;
      member.dead = true;
      // Hand its batches back, first one first.
      pending.push(...member.inFlight.reverse());
      member.inFlight = [];
      void member.worker.terminate();
      for (const other of pool) feed(other);
      checkDone();
    };

    signal?.addEventListener('abort', onAbort, { once: true });

    for (let i = 0; i < count; i++) {
      const worker = new Worker(options.workerUrl);
      const member: PoolWorker = { worker, inFlight: [], dead: false, used: false };
      pool.push(member);
      worker.on('message', (result: HashBatchResult) => {
        if (settled || member.dead) return;
        const index = member.inFlight.findIndex((b) => b.id === result.id);
        if (index >= 0) member.inFlight.splice(index, 1);
        member.used = true;
        try {
          options.onResult(result);
        } catch (err) {
          finish({ reason: err });
          return;
        }
        feed(member);
        checkDone();
      });
      worker.on('error', () => fail(member));
      worker.on('exit', () => fail(member));
    }
    for (const member of pool) feed(member);
  });
}
