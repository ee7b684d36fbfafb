import { setImmediate as nextMacrotask } from 'node:timers/promises';

/**
 * CPU-bound loops (matching file names against a user's rules) give the event loop back at least
 * this often, so that HTTP requests (health probes first) and socket events on the same process
 * wait at most about this long. Awaiting a resolved promise is not enough: microtasks run before
 * any I/O callback.
 */
export const EVENT_LOOP_SLICE_MS = 10;

let sliceStarted = performance.now();

/** True when the current slice is used up: the caller should `await yieldEventLoop()`. */
export function eventLoopSliceDue(): boolean {
  return performance.now() - sliceStarted >= EVENT_LOOP_SLICE_MS;
}

/** Lets timers and I/O run, then starts a new slice. */
export async function yieldEventLoop(): Promise<void> {
  await nextMacrotask();
  sliceStarted = performance.now();
}
