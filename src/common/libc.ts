import { createRequire } from 'node:module';

/** A libc function bound through koffi: numbers and strings in, an int out. */
export type LibcFunction = (...args: unknown[]) => number;

export interface Libc {
  /** Binds a C prototype as koffi declares it, e.g. 'int unlinkat(int dirfd, const char *path, int flags)'. */
  func(definition: string): LibcFunction;
  /** The errno the calling thread's last failed call left. */
  errno(): number;
}

interface Koffi {
  load(path: string): { func(definition: string): LibcFunction };
  errno(): number;
}

let loaded: Libc | null | undefined;
let loadError: string | undefined;

/**
 * glibc (libc.so.6) through koffi, which ships its prebuilt binary in the npm package (no
 * compiler, no install script) and, being an N-API addon, loads in worker threads too. Loaded
 * once per thread (module state is per thread); null where it cannot load (not Linux, no glibc,
 * koffi absent), and `libcUnavailableReason()` then says why. Callers keep a path-based or
 * no-op fallback for that case.
 */
export function loadLibc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux') {
    loadError = `not Linux (${process.platform})`;
    return null;
  }
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    const lib = koffi.load('libc.so.6');
    loaded = { func: (definition) => lib.func(definition), errno: () => koffi.errno() };
  } catch (error) {
    loadError = error instanceof Error ? error.message : String(error);
  }
  return loaded;
}

export function libcUnavailableReason(): string | undefined {
  loadLibc();
  return loadError;
}
