/**
 * One production scan in a fresh process, for scan.bench.ts's `ours (new process)` row: loads only
 * LocalUserStorage and the scanner (what a worker loads to walk), iterates a scan over the folder given as the
 * only argument, and prints `{ files, bytes, errors, seconds }` (seconds: the walk alone).
 */
import { performance } from 'node:perf_hooks';
import { scanFiles } from '../src/modules/scanning/scanner.js';
import { LocalUserStorage } from '../src/modules/storage/local-user-storage.js';

export type FileLayer = 'dirfd' | 'path';

/** STORAGE_FILE_LAYER=dirfd|path picks the local file layer, as in the service (else the one that loads). */
export const layerFromEnv = (): FileLayer | undefined =>
  process.env.STORAGE_FILE_LAYER === 'path' || process.env.STORAGE_FILE_LAYER === 'dirfd'
    ? process.env.STORAGE_FILE_LAYER
    : undefined;

export async function scanOurs(
  root: string,
  layer: FileLayer | undefined = layerFromEnv(),
): Promise<{ files: number; bytes: number; errors: number }> {
  const storage = await LocalUserStorage.open(root, undefined, layer);
  let files = 0;
  let bytes = 0;
  let errors = 0;
  // The organize runner's call: the user's folder, hidden files skipped, errors collected.
  const walk = scanFiles(storage, '', { includeHidden: false, onUnreadable: () => (errors += 1) });
  for await (const batch of walk) {
    files += batch.length;
    for (const file of batch) bytes += file.size;
  }
  storage.close();
  return { files, bytes, errors };
}

// Run only as a program (scan.bench.ts imports scanOurs from here too).
if (process.argv[1]?.endsWith('scan-child.js') && process.argv[2]) {
  const t = performance.now();
  const seen = await scanOurs(process.argv[2]);
  process.stdout.write(JSON.stringify({ ...seen, seconds: (performance.now() - t) / 1000 }));
}
