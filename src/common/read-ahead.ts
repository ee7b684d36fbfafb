import { loadLibc } from './libc.js';

/**
 * Asks the kernel to start reading `length` bytes at `offset` of the open file `fd` into the page
 * cache, and returns without waiting for them (posix_fadvise(POSIX_FADV_WILLNEED)). Only advice:
 * a failure is ignored, and the later read is correct either way.
 */
export type ReadAhead = (fd: number, offset: number, length: number) => void;

const POSIX_FADV_WILLNEED = 3;

let loaded: ReadAhead | null | undefined;

/**
 * The read-ahead of this thread, or null where libc cannot be reached (src/common/libc.ts): callers
 * then read one file at a time, as they did before.
 *
 * Why: the hash threads and the planning's content sniffing read with synchronous calls, so on a
 * cold page cache each waits for one small read at a time and the disk sees a queue of one or two.
 * Measured on this machine (virtio disk, 100,000-file bench tree, caches dropped): the first 4 KiB
 * of every file read by 2 parallel readers took 6.7 s, by 8 took 3.2 s, by 32 took 2.3 s. Advising
 * the next files while reading this one gives that queue depth without more threads (a hash thread
 * costs ~35 MiB of RSS); on a warm cache the advice costs ~0.4 µs a file.
 */
export function loadReadAhead(): ReadAhead | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const libc = loadLibc();
  if (!libc) return null;
  try {
    // posix_fadvise64: a 64-bit offset on every glibc architecture (posix_fadvise's off_t is 32 bits on 32-bit ones).
    const fadvise = libc.func('int posix_fadvise64(int fd, int64_t offset, int64_t len, int advice)');
    loaded = (fd, offset, length) => {
      fadvise(fd, offset, length, POSIX_FADV_WILLNEED);
    };
  } catch {
    loaded = null;
  }
  return loaded;
}
