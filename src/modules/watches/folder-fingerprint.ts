import { createHash } from 'node:crypto';
import type { ScanningService } from '../scanning/scanning.service.js';
import type { UserStorage } from '../storage/storage-provider.js';

/**
 * What organize would see below `root`, boiled down to a string: the number of files, of
 * unreadable entries, and the sum (mod 2^32 per 32-bit word) of the first 128 bits of
 * sha256(path, size, mtime, inode) over the files. A sum, so the walk's order does not matter;
 * any file added, removed, renamed, resized or touched changes it.
 */
export async function folderFingerprint(
  scanning: ScanningService,
  storage: UserStorage,
  root: string,
  includeHidden: boolean,
): Promise<string> {
  const sum = new Uint32Array(4);
  let files = 0;
  let unreadable = 0;
  const options = { includeHidden, onUnreadable: () => (unreadable += 1) };
  for await (const batch of scanning.files(storage, root, options)) {
    for (const file of batch) {
      const digest = createHash('sha256').update(`${file.path}\0${file.size}\0${file.mtimeMs}\0${file.ino}`).digest();
      for (let word = 0; word < 4; word += 1) sum[word] += digest.readUInt32LE(word * 4);
      files += 1;
    }
  }
  return `v1:${files}:${unreadable}:${Buffer.from(sum.buffer).toString('hex')}`;
}
