/**
 * CPU-bound loops (matching file names against a user's rules) give the event loop back at least
 * this often, so that HTTP requests (health probes first) and socket events on the same process
 * wait at most about this long. Awaiting a resolved promise is not enough: microtasks run before
 * any I/O callback.
 */
export const EVENT_LOOP_SLICE_MS = 5;

let sliceStarted = performance.now();
let nextTurn: Promise<void> | undefined;

/** True when the current slice is used up: the caller should `await yieldEventLoop()`. */
export function eventLoopSliceDue(): boolean {
  return performance.now() - sliceStarted >= EVENT_LOOP_SLICE_MS;
}

/**
 * Lets timers and I/O run, then starts a new slice. Concurrent callers (several files categorized
 * at once) share one turn, and the slice starts once for all of them: each of them resuming with
 * a slice of its own would run them all back to back, without I/O between.
 */
export function yieldEventLoop(): Promise<void> {
  nextTurn ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      nextTurn = undefined;
      sliceStarted = performance.now();
      resolve();
    }),
  );
  return nextTurn;
}
