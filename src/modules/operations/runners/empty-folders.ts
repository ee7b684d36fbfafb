import { mapLimited } from '../../../common/map-limited.js';
import type { UserStorage } from '../../storage/storage-provider.js';
import { isInside } from '../../storage/user-path.js';
import { parentOf } from './run-context.js';

const REMOVALS_AT_ONCE = 8;

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
    // One depth at a time (a parent only after its children), several folders of one depth at once:
    // removing a folder that held thousands of names takes the filesystem milliseconds.
    for (let start = 0; start < deepestFirst.length;) {
      const depth = deepestFirst[start].split('/').length;
      let end = start;
      while (end < deepestFirst.length && deepestFirst[end].split('/').length === depth) end += 1;
      const level = deepestFirst.slice(start, end).filter((folder) => !keep.has(folder));
      start = end;
      const results = await mapLimited(level, REMOVALS_AT_ONCE, (folder) => storage.removeEmptyFolder(folder));
      level.forEach((folder, i) => {
        if (!results[i]) return;
        removed.add(folder);
        const parent = parentOf(folder);
        if (parent !== within && isInside(parent, within) && !removed.has(parent)) pending.add(parent);
      });
    }
  }
  return [...removed];
}
