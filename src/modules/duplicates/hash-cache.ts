import type { FileIdentity, HashCache, HashKind } from './duplicates.types.js';

/**
 * HashCache kept in memory, for one process. An entry is found only while the file keeps its
 * device, inode, size and modification time (to the sub-millisecond mtimeMs the walk reports), so
 * a file rewritten in place, or replaced by another file, misses. A change that keeps the size
 * and puts the old mtime back (`touch -d`) would not be seen; this is the trade made by every
 * mtime-based cache (git, rsync), and a destructive action (quarantine) re-verifies the content.
 */
interface Entry {
  dev: number;
  size: number;
  mtimeMs: number;
  partial?: string;
  full?: string;
}

export class InMemoryHashCache implements HashCache {
  /** By inode number (then device): numeric keys, no key string per lookup; one entry per file. */
  private readonly entries = new Map<number, Entry[]>();
  private count = 0;

  /** Files with at least one hash. */
  get size(): number {
    return this.count;
  }

  get(key: FileIdentity, kind: HashKind): string | undefined {
    const list = this.entries.get(key.ino);
    if (!list) return undefined;
    for (const e of list) {
      if (e.dev === key.dev && e.size === key.size && e.mtimeMs === key.mtimeMs)
        return kind === 'full' ? e.full : e.partial;
    }
    return undefined;
  }

  set(key: FileIdentity, kind: HashKind, hash: string): void {
    let list = this.entries.get(key.ino);
    if (!list) this.entries.set(key.ino, (list = []));
    let entry = list.find((e) => e.dev === key.dev);
    if (!entry || entry.size !== key.size || entry.mtimeMs !== key.mtimeMs) {
      // A file changed (or a new one took the inode): its old hashes are worthless.
      if (entry) list.splice(list.indexOf(entry), 1);
      else this.count++;
      entry = { dev: key.dev, size: key.size, mtimeMs: key.mtimeMs };
      list.push(entry);
    }
    if (kind === 'full') entry.full = hash;
    else entry.partial = hash;
  }

  clear(): void {
    this.entries.clear();
    this.count = 0;
  }
}
