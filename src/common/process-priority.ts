import { readdirSync } from 'node:fs';
import os from 'node:os';

/**
 * Gives every thread of this process at least the niceness `nice` (never a higher priority than
 * it was started with: a thread already nicer is left alone).
 *
 * On Linux a niceness belongs to a thread: setpriority(PRIO_PROCESS, 0) changes the calling
 * thread only, and a new thread inherits the niceness of the thread that creates it. So the
 * threads already running (V8's platform threads) are set one by one through /proc/self/task, and
 * every thread started later (libuv's pool, the hash threads) inherits the main thread's. Where
 * /proc is missing, id 0: the process as the OS defines it. Throws what the OS refuses, except a
 * thread that ended between the listing and now.
 */
export function lowerThreadPriorities(nice: number): void {
  let threads: number[];
  try {
    threads = readdirSync('/proc/self/task').map(Number).filter(Number.isInteger);
  } catch {
    threads = [0];
  }
  for (const thread of threads) {
    try {
      if (os.getPriority(thread) < nice) os.setPriority(thread, nice);
    } catch (error) {
      if ((error as { info?: { code?: string } }).info?.code !== 'ESRCH') throw error;
    }
  }
}
