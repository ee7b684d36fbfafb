import { readdirSync } from 'node:fs';
import os from 'node:os';

/**
 * Gives every thread of this process at least the niceness `nice` (never a higher priority than
 * it was started with: a thread already nicer is left alone). Answers how many threads it set.
 *
 * On Linux a niceness belongs to a thread: setpriority(PRIO_PROCESS, 0) changes the calling
 * thread only, and a new thread inherits the niceness of the thread that creates it. So the
 * threads already running (V8's platform threads) are set one by one through /proc/self/task, and
 * every thread started later (libuv's pool, the hash threads) inherits the main thread's. Where
 * /proc is missing, the process as the OS defines it.
 */
export function lowerThreadPriorities(nice: number): number {
  let threads: number[];
  try {
    threads = readdirSync('/proc/self/task').map(Number).filter(Number.isInteger);
  } catch {
    threads = [];
  }
  if (threads.length === 0) {
    if (os.getPriority() >= nice) return 0;
    os.setPriority(nice);
    return 1;
  }
  let set = 0;
  for (const thread of threads) {
    try {
      if (os.getPriority(thread) >= nice) continue;
      os.setPriority(thread, nice);
      set += 1;
    } catch {
      // The thread ended between the listing and now.
    }
  }
  return set;
}
