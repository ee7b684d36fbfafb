import fs from 'node:fs';
import { mapLimited } from '../../common/map-limited.js';
import type { FolderEntry, FolderPage, FolderPageRequest } from './storage-provider.js';
import { PathEscapeError } from './storage-provider.js';
import { isReservedName } from './user-path.js';
/** Directory entries fetched per readdir call while a listing streams through a folder. */
const READ_BUFFER = 1024;
/** Entries handled between two turns of the event loop. */
const YIELD_EVERY = 4096;
/** lstat calls in flight for one page's entries (libuv's pool has four threads). */
const STAT_CONCURRENCY = 8;

/** The folder's identity; throws PathEscapeError when the path leads through a symbolic link. */
async function checkedFolder(absoluteFolder: string): Promise<fs.Stats> {
  const stat = await fs.promises.lstat(absoluteFolder);
  if (!stat.isDirectory() || (await fs.promises.realpath(absoluteFolder)) !== absoluteFolder) {
    throw new PathEscapeError('the folder leads through a symbolic link');
  }
  return stat;
}

/** Where a listing stands: an entry's kind and name, in listing order (folders first, then by name). */
interface Position {
  folder: boolean;
  name: string;
}

/** Listing order: folders before files, then by name in UTF-16 code-unit order (as `<` compares). */
function compare(a: Position, b: Position): number {
  if (a.folder !== b.folder) return a.folder ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The local cursor: `d:<name>` or `f:<name>`, the last entry of the previous page. It is a
 * position, not an offset: entries added or removed meanwhile neither repeat nor skip the others.
 * Anything else is refused (null); a forged position only moves where the listing resumes.
 */
export function parseLocalCursor(cursor: string): Position | null {
  const match = /^([df]):(.+)$/s.exec(cursor);
  if (!match || match[2].includes('/') || match[2].includes('\0')) return null;
  return { folder: match[1] === 'd', name: match[2] };
}

function formatLocalCursor(position: Position): string {
  return `${position.folder ? 'd' : 'f'}:${position.name}`;
}

/**
 * The `limit` smallest positions seen (a max-heap on listing order): memory stays at `limit`
 * entries however large the folder, and each entry costs O(log limit).
 */
class SmallestPositions {
  private readonly heap: Position[] = [];

  constructor(private readonly capacity: number) {}

  /** Whether an entry of this kind and name would enter (tested before allocating it). */
  admits(folder: boolean, name: string): boolean {
    if (this.heap.length < this.capacity) return true;
    const top = this.heap[0];
    if (folder !== top.folder) return folder;
    return name < top.name;
  }

  offer(position: Position): void {
    const heap = this.heap;
    if (heap.length < this.capacity) {
      heap.push(position);
      this.up(heap.length - 1);
    } else {
      heap[0] = position;
      this.down(0);
    }
  }

  sorted(): Position[] {
    return [...this.heap].sort(compare);
  }

  private up(index: number): void {
    const heap = this.heap;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (compare(heap[index], heap[parent]) <= 0) return;
      [heap[index], heap[parent]] = [heap[parent], heap[index]];
      index = parent;
    }
  }

  private down(index: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let largest = index;
      if (left < heap.length && compare(heap[left], heap[largest]) > 0) largest = left;
      if (right < heap.length && compare(heap[right], heap[largest]) > 0) largest = right;
      if (largest === index) return;
      [heap[index], heap[largest]] = [heap[largest], heap[index]];
      index = largest;
    }
  }
}

/**
 * One page of a folder on local disk, in listing order, in memory bounded by the page: the folder
 * is read as a stream (opendir), the entries after the cursor are kept only while they are among
 * the `limit` first, and only the page's entries are lstat()ed. Every entry is still read once per
 * page (a directory has no order to seek in), which also gives the exact total.
 * `.fileorganizer*` names are hidden; symbolic links, sockets, FIFOs and devices are not listed
 * (the entry type comes from readdir, no link is followed).
 */
export async function listLocalFolder(
  absoluteFolder: string,
  relativeFolder: string,
  request: FolderPageRequest,
): Promise<FolderPage> {
  const after = request.cursor === undefined ? null : parseLocalCursor(request.cursor);
  if (request.cursor !== undefined && after === null) throw new RangeError('malformed cursor');
  const smallest = new SmallestPositions(request.limit);
  let total = 0;
  let remaining = 0;
  // opendir() takes a path: the folder is checked to be itself (no link on the way, same inode)
  // before and after the read, so a folder swapped for a link meanwhile fails the listing rather
  // than showing another folder's names (a swap undone within the read is not seen: the
  // descriptor-based provider closes that).
  const pinned = await checkedFolder(absoluteFolder);
  const dir = await fs.promises.opendir(absoluteFolder, { bufferSize: READ_BUFFER });
  try {
    // readSync() hands out buffered entries without a promise each (3x faster than `for await`
    // here); it blocks only for one getdents of READ_BUFFER entries, and the loop yields to the
    // event loop every YIELD_EVERY entries, so other requests are served during a long listing.
    let read = 0;
    for (let entry = dir.readSync(); entry !== null; entry = dir.readSync()) {
      read += 1;
      if (read % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
      const { name } = entry;
      // Names the service writes for itself: never listed (the same rule as the walk's).
      if (isReservedName(name)) continue;
      const folder = entry.isDirectory();
      if (!folder && !entry.isFile()) continue;
      total += 1;
      // The cursor compare inline: this loop runs once per entry of the folder.
      if (after && (folder === after.folder ? name <= after.name : folder)) continue;
      remaining += 1;
      if (smallest.admits(folder, name)) smallest.offer({ folder, name });
    }
  } finally {
    await dir.close();
  }
  const now = await checkedFolder(absoluteFolder);
  if (now.dev !== pinned.dev || now.ino !== pinned.ino) {
    throw new PathEscapeError(`${relativeFolder || 'your folder'} was replaced while it was listed`);
  }
  const page = smallest.sorted();
  const stats = await mapLimited(page, STAT_CONCURRENCY, (position) =>
    fs.promises.lstat(`${absoluteFolder}/${position.name}`).catch(() => null),
  );
  const entries: FolderEntry[] = [];
  page.forEach((position, index) => {
    const stat = stats[index];
    // Gone, or replaced by something else (a link) since readdir: left out of this page.
    if (!stat || (position.folder ? !stat.isDirectory() : !stat.isFile())) return;
    entries.push({
      path: relativeFolder === '' ? position.name : `${relativeFolder}/${position.name}`,
      type: position.folder ? 'folder' : 'file',
      size: position.folder ? 0 : stat.size,
      modifiedAt: stat.mtime.toISOString(),
    });
  });
  const last = page[page.length - 1];
  return { entries, total, next: remaining > page.length && last ? formatLocalCursor(last) : null };
}
