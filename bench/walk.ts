import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { CandidateFile } from '../src/modules/duplicates/duplicates.types.js';

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
