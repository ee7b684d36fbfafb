import type { UserStorage } from '../../storage/storage-provider.js';
import { isInside } from '../../storage/user-path.js';
import { parentOf } from './run-context.js';

/**
 * Removes the folders below `within` (never `within` itself, nor anything in `keep`) that moving
 * files out of `vacated` left empty, deepest first, climbing to parents that empty in turn.
 * Answers the removed folders.
 */
export async function removeEmptiedFolders(
  storage: UserStorage,
  vacated: Iterable<string>,
  within: string,
  keep: Set<string> = new Set(),
): Promise<string[]> {
  let pending = new Set<string>();
  for (const folder of vacated) if (folder !== within && isInside(folder, within)) pending.add(folder);
  const removed = new Set<string>();
  while (pending.size > 0) {
    const deepestFirst = [...pending].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : 1));
    pending = new Set();
    for (const folder of deepestFirst) {
      if (keep.has(folder) || !(await storage.removeEmptyFolder(folder))) continue;
      removed.add(folder);
      const parent = parentOf(folder);
      if (parent !== within && isInside(parent, within) && !removed.has(parent)) pending.add(parent);
    }
  }
  return [...removed];
}
