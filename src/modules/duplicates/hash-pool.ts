import { existsSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
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
 * tested too, against a copy of the worker that the spec compiles with SWC.
 *
 * The threads are kept between searches (one pool per worker script and size, shared by the
 * searches of a process in submission order) and end after IDLE_MS without work: starting two
 * threads costs 60-200 ms on this machine, as much as hashing 10,000 small files. Idle threads are
 * unref'd, so they never keep a process alive. A worker that dies hands its batches back and is
 * replaced; after MAX_FAILURES deaths the pool gives up and the calling thread does the rest.
 */

export interface HashPoolOptions {
  threads: number;
  workerUrl: URL;
  signal?: AbortSignal;
  onResult: (result: HashBatchResult) => void;
}

/** Batches each worker holds at once, so that it never waits for the next message. */
const IN_FLIGHT_PER_WORKER = 2;
const IDLE_MS = 30_000;
const MAX_FAILURES = 3;
/**
 * A hash thread's young generation, in MiB. V8's default is sized for a main thread's heap: room
 * a hash thread never needs, as it keeps no objects beyond a batch's paths and typed arrays.
 * 4 MiB cut the peak RSS of a two-thread search of the 100,000-file bench tree by ~14 MiB
 * (84 -> 70 MiB above the walk's) at the same speed. Only a GC setting: a thread that allocates
 * more collects more often; it is never stopped for it (no old-generation limit).
 */
const HASH_THREAD_YOUNG_GENERATION_MB = 4;

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

/** Returns the number of worker threads that hashed at least one batch of this call. */
export async function runHashBatches(batches: readonly HashBatch[], options: HashPoolOptions): Promise<number> {
  const { signal } = options;
  if (signal?.aborted) throw abortReason(signal);
  const threads = Math.max(0, Math.floor(options.threads));
  let leftover: HashBatch[] = [...batches];
  let threadsUsed = 0;
  if (threads > 0 && batches.length > 0 && workerLoadable(options.workerUrl)) {
    const pool = poolFor(options.workerUrl, threads);
    const outcome = await pool.run(batches, options.onResult, signal);
    threadsUsed = outcome.threadsUsed;
    leftover = outcome.leftover;
  }
  if (leftover.length > 0) await runInThread(leftover, options);
  return threadsUsed;
}

/**
 * Ends now the threads of every pool without work, as IDLE_MS would later: for a caller done with a
 * phase of hashing that wants the threads' memory back at once (organize, before it saves the
 * hash cache: ~30 MiB a thread). A pool with queued or running batches keeps its threads; the next
 * search starts new ones.
 */
export async function releaseIdleHashWorkers(): Promise<void> {
  const idle = [...pools].filter(([, pool]) => pool.isIdle());
  for (const [key] of idle) pools.delete(key);
  await Promise.all(idle.map(([, pool]) => pool.close()));
}

/** Live hash threads of every pool (for tests and metrics). */
export function hashWorkerThreads(): number {
  let threads = 0;
  for (const pool of pools.values()) threads += pool.threads;
  return threads;
}

/** Ends every pool's threads (for tests and graceful shutdown; idle pools also end by themselves). */
export async function closeHashWorkers(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close()));
}

/**
 * The calling thread's hasher, made once: its 1 MiB read buffer per search was, for a worker
 * running many small searches here (see hashThreadsFor), most of what its collector had to do.
 * Shared by concurrent searches safely: a batch is hashed synchronously, start to end.
 */
let callingThreadHasher: FileHasher | undefined;

async function runInThread(batches: HashBatch[], options: HashPoolOptions): Promise<void> {
  const { signal } = options;
  const hasher = (callingThreadHasher ??= new FileHasher());
  const stop = (): boolean => signal?.aborted ?? false;
  for (const batch of batches) {
    if (signal?.aborted) throw abortReason(signal);
    const result = hasher.hashBatch(batch, stop);
    if (result.stopped && signal) throw abortReason(signal);
    options.onResult(result);
    // Keep the event loop (Bull's lock renewal, progress events) alive between batches.
    await yieldToEventLoop();
  }
}

const pools = new Map<string, HashWorkerPool>();

function poolFor(url: URL, threads: number): HashWorkerPool {
  const key = `${threads}:${url.href}`;
  let pool = pools.get(key);
  if (!pool || pool.broken) {
    pool = new HashWorkerPool(url, threads);
    pools.set(key, pool);
  }
  return pool;
}

interface Call {
  onResult: (result: HashBatchResult) => void;
  remaining: number;
  done: boolean;
  used: Set<PoolWorker>;
  settle: (error?: { reason: unknown }) => void;
  /** Batches handed back when the pool broke. */
  leftover: HashBatch[];
}

interface Job {
  batch: HashBatch;
  call: Call;
}

interface PoolWorker {
  worker: Worker;
  inFlight: Map<number, Job>;
  dead: boolean;
}

class HashWorkerPool {
  broken = false;
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Job[] = [];
  private nextMessageId = 0;
  private failures = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: URL,
    private readonly size: number,
  ) {}

  run(
    batches: readonly HashBatch[],
    onResult: (result: HashBatchResult) => void,
    signal?: AbortSignal,
  ): Promise<{ threadsUsed: number; leftover: HashBatch[] }> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => call.settle({ reason: abortReason(signal!) });
      const call: Call = {
        onResult,
        remaining: batches.length,
        done: false,
        used: new Set(),
        leftover: [],
        settle: (error) => {
          if (call.done) return;
          call.done = true;
          signal?.removeEventListener('abort', onAbort);
          // Its queued batches are dropped; batches in flight finish and are ignored.
          for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].call === call) this.queue.splice(i, 1);
          this.scheduleIdle();
          if (error) reject(error.reason);
          else resolve({ threadsUsed: call.used.size, leftover: call.leftover });
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      for (const batch of batches) this.queue.push({ batch, call });
      this.spawnMissing();
      this.dispatch();
    });
  }

  /** No batch queued or running. */
  isIdle(): boolean {
    return this.queue.length === 0 && this.workers.every((w) => w.inFlight.size === 0);
  }

  get threads(): number {
    return this.workers.length;
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const workers = this.workers.splice(0);
    for (const w of workers) w.dead = true;
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  private spawnMissing(): void {
    while (!this.broken && this.workers.length < this.size) {
      const member: PoolWorker = {
        worker: new Worker(this.url, {
          resourceLimits: { maxYoungGenerationSizeMb: HASH_THREAD_YOUNG_GENERATION_MB },
        }),
        inFlight: new Map(),
        dead: false,
      };
      this.workers.push(member);
      // Referenced only while it has work (see dispatch/onMessage).
      member.worker.unref();
      member.worker.on('message', (result: HashBatchResult) => this.onMessage(member, result));
      member.worker.on('error', () => this.onFailure(member));
      member.worker.on('exit', () => this.onFailure(member));
    }
  }

  private dispatch(): void {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    for (const member of this.workers) {
      while (!member.dead && member.inFlight.size < IN_FLIGHT_PER_WORKER && this.queue.length > 0) {
        const job = this.queue.shift()!;
        const id = this.nextMessageId++;
        member.inFlight.set(id, job);
        member.worker.postMessage({ ...job.batch, id });
      }
      if (member.inFlight.size > 0) member.worker.ref();
    }
    this.scheduleIdle();
  }

  private onMessage(member: PoolWorker, message: HashBatchResult): void {
    const job = member.inFlight.get(message.id);
    member.inFlight.delete(message.id);
    if (member.inFlight.size === 0) member.worker.unref();
    if (job && !job.call.done) {
      const { call } = job;
      call.used.add(member);
      try {
        call.onResult({ ...message, id: job.batch.id });
      } catch (err) {
        call.settle({ reason: err });
      }
      if (--call.remaining === 0) call.settle();
    }
    this.dispatch();
  }

  private onFailure(member: PoolWorker): void {
    if (member.dead) return;
    member.dead = true;
    this.failures++;
    const index = this.workers.indexOf(member);
    if (index >= 0) this.workers.splice(index, 1);
    void member.worker.terminate();
    // Hand its batches back, in their order, ahead of the queue.
    const back = [...member.inFlight.values()].filter((job) => !job.call.done);
    member.inFlight.clear();
    this.queue.unshift(...back);
    if (this.failures >= MAX_FAILURES) this.broken = true;
    this.spawnMissing();
    // Broken and no thread left: the callers finish on their own threads.
    if (this.workers.length === 0) this.giveUp();
    else this.dispatch();
  }

  /** The pool is broken: every waiting call gets its unfinished batches back to run in-thread. */
  private giveUp(): void {
    const jobs = this.queue.splice(0);
    const calls = new Set(jobs.map((j) => j.call));
    for (const job of jobs) job.call.leftover.push(job.batch);
    for (const call of calls) call.settle();
    void this.close();
  }

  private scheduleIdle(): void {
    if (this.idleTimer || this.queue.length > 0 || this.workers.some((w) => w.inFlight.size > 0)) return;
    if (this.broken) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.isIdle()) {
        if (pools.get(`${this.size}:${this.url.href}`) === this) pools.delete(`${this.size}:${this.url.href}`);
        void this.close();
      }
    }, IDLE_MS);
    this.idleTimer.unref();
  }
}
