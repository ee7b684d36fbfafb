import type { FileIdentity, HashCache, HashKind } from './duplicates.types.js';

/**
 * HashCache kept in memory, for one process. An entry is found only while the file keeps its
 * device, inode, size and modification time (to the sub-millisecond mtimeMs the walk reports), so
 * a file rewritten in place, or replaced by another file, misses. A change that keeps the size
 * and puts the old mtime back (`touch -d`) would not be seen; this is the trade made by every
 * mtime-based cache (git, rsync), and a destructive action (quarantine) re-verifies the content.
 */
export class InMemoryHashCache implements HashCache {
  private readonly entries = new Map<string, string>();

  get size(): number {
    return this.entries.size;
  }

  get(key: FileIdentity, kind: HashKind): string | undefined {
    return this.entries.get(InMemoryHashCache.key(key, kind));
  }

  set(key: FileIdentity, kind: HashKind, hash: string): void {
    this.entries.set(InMemoryHashCache.key(key, kind), hash);
  }

  clear(): void {
    this.entries.clear();
  }

  private static key(file: FileIdentity, kind: HashKind): string {
    return `${kind === 'full' ? 'f' : 'p'}:${file.dev}:${file.ino}:${file.size}:${file.mtimeMs}`;
  }
}
