import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { CandidateFile } from '../src/modules/duplicates/duplicates.types.js';
import { scanFiles } from '../src/modules/scanning/scanner.js';
import { LocalUserStorage } from '../src/modules/storage/local-user-storage.js';
import { layerFromEnv } from './scan-child.js';

/**
 * Lists the regular files under `root` (symbolic links not followed), the way the organize
 * pipeline's scanner hands them to findDuplicates. Synchronous: readdir + lstat per file is the
 * cost, and promises would only add to it.
 */
export function walkFiles(root: string): CandidateFile[] {
  const out: CandidateFile[] = [];
  const stack = [root];
  for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isFile()) {
        const st = lstatSync(full);
        out.push({ path: full, size: st.size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs });
      }
    }
  }
  return out;
}

/**
 * The same list through the service's own walk (LocalUserStorage on the file layer that
 * STORAGE_FILE_LAYER names, else the one that loads: the directory-descriptor layer on Linux) and
 * the scanner's rules, as an organize job lists a folder before it hashes: what the duplicates and
 * rerun benches time as "ours". Hidden names are left out, as organize does by default; the
 * generated trees have none.
 */
export async function walkCandidates(root: string): Promise<CandidateFile[]> {
  const storage = await LocalUserStorage.open(root, undefined, layerFromEnv());
  const out: CandidateFile[] = [];
  try {
    const walk = scanFiles(storage, '', {
      includeHidden: false,
      onUnreadable: (entry) => {
        throw new Error(`unreadable in a bench tree: ${JSON.stringify(entry)}`);
      },
    });
    for await (const batch of walk) {
      for (const file of batch) {
        out.push({
          path: path.join(root, file.path),
          size: file.size,
          dev: file.dev,
          ino: file.ino,
          mtimeMs: file.mtimeMs,
        });
      }
    }
  } finally {
    storage.close();
  }
  return out;
}
