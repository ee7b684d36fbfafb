import type { FolderEntry, StoredFile, UserStorage } from '../storage/storage-provider.js';
import { PathEscapes } from '../storage/storage-errors.js';
import { isReservedName } from '../storage/user-path.js';

/** One regular file a scan found: path, size, mtime and identity (dev/ino on local disk, ETag on S3 where known). */
export type ScannedFile = StoredFile;

/** An entry a scan met and did not hand on: why is in `reason`. */
export interface ScanProblem {
  path: string;
  reason: string;
}

export interface ScanOptions {
  /** Whether names starting with "." (and everything below such a folder) are scanned. */
  includeHidden: boolean;
  /** An entry that could not be read (listed, stat'ed, entered); the scan goes on. */
  onUnreadable: (problem: ScanProblem) => void;
  /** A special file (FIFO, socket, device): never opened; the scan goes on. */
  onSkipped?: (problem: ScanProblem) => void;
}

/** Names starting with "." are hidden (the Unix convention, on S3 per key segment too). */
export function isHidden(name: string): boolean {
  return name.startsWith('.');
}

/** Why a special file met by a scan is skipped (it is never opened: a FIFO would block its reader). */
export function specialFileReason(fileType: string): string {
  return `special file (${fileType}): never opened`;
}

/** Names a scan looks at: never the service's own (`.fileorganizer*`), hidden ones only when asked. */
const visibleOnly = { admits: (name: string): boolean => !isReservedName(name) && !isHidden(name) };
const hiddenToo = { admits: (name: string): boolean => !isReservedName(name) };

/**
 * The walk's rules, in one place for every backend and every caller (organize's planning, and
 * through its journal the duplicate search and the hash cache): the regular files below `root`,
 * in batches, in the order the backend walks (local disk: depth first, by name; S3: key order).
 *
 * - `.fileorganizer*` names (quarantine, temp copies, state) are never scanned, in any case or
 *   Unicode spelling (isReservedName); hidden names only with `includeHidden`.
 * - Symbolic links are never followed and never listed.
 * - Special files are reported through onSkipped and never opened.
 * - Unreadable entries are reported through onUnreadable; the scan goes on.
 *
 * The backend gives the primitive (UserStorage.walkTree): on local disk a batched walk through the
 * pinned directory descriptors, which descends by openat(O_NOFOLLOW) and checks each folder's
 * device and inode; the rules above are decided here. Reports of a batch come before its files.
 */
export async function* scanFiles(
  storage: UserStorage,
  root: string,
  options: ScanOptions,
): AsyncIterable<ScannedFile[]> {
  const rules = options.includeHidden ? hiddenToo : visibleOnly;
  for await (const batch of storage.walkTree(root, rules)) {
    for (const entry of batch.passed) {
      if (entry.kind === 'unreadable') {
        options.onUnreadable({ path: entry.path, reason: entry.detail ?? 'unreadable' });
      } else if (entry.kind === 'special') {
        options.onSkipped?.({ path: entry.path, reason: specialFileReason(entry.detail ?? 'unknown') });
      }
      // Links: never followed, never listed.
    }
    if (batch.files.length > 0) yield batch.files;
  }
}

/**
 * Every entry (files and folders) below `folder`, breadth first, through UserStorage.list (which
 * leaves out links and `.fileorganizer*` names), stopping once more than `max` are found: a folder
 * removed, made unreadable or swapped for a link during the scan is passed over, as scanFiles does.
 * For listings (GET /files?recursive=true), which show hidden entries as the folder listing does.
 */
export async function scanEntries(storage: UserStorage, folder: string, max: number): Promise<FolderEntry[]> {
  const result: FolderEntry[] = [];
  const queue = [folder];
  while (queue.length > 0 && result.length <= max) {
    const current = queue.shift() as string;
    const entries = await readFolder(storage, current, max - result.length).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== undefined || error instanceof PathEscapes) return [];
      throw error;
    });
    for (const entry of entries) {
      result.push(entry);
      if (entry.type === 'folder') queue.push(entry.path);
    }
  }
  return result;
}

/** Up to `max` + 1 entries of one folder (any order): enough to tell it holds more than `max`. */
export async function readFolder(storage: UserStorage, folder: string, max: number): Promise<FolderEntry[]> {
  const entries: FolderEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await storage.list(folder, { cursor, limit: max + 1 - entries.length });
    entries.push(...page.entries);
    cursor = page.next ?? undefined;
  } while (cursor !== undefined && entries.length <= max);
  return entries;
}
