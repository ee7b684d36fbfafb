import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findDuplicates } from './duplicate-finder.js';
import type { CandidateFile } from './duplicates.types.js';
import { HASH_SCHEME } from './file-hasher.js';
import { PersistentHashCache } from './persistent-hash-cache.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const key = (ino: number, size = 10, mtimeMs = 1_700_000_000_123.456, dev = 2049) => ({ dev, ino, size, mtimeMs });

describe('PersistentHashCache', () => {
  it('answers what was stored after a round trip through bytes, for the same identity only', () => {
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    cache.set(key(7), 'partial', 'abc123');
    cache.set(key(7), 'full', sha('seven'));
    cache.set(key(3), 'partial', 'ffffffffffffffff');
    cache.set(key(3, 10, 1, 99), 'partial', '1');
    const loaded = PersistentHashCache.load(HASH_SCHEME, cache.toBytes());
    expect(loaded.loadedEntries).toBe(3);
    expect(loaded.get(key(7), 'partial')).toBe('abc123');
    expect(loaded.get(key(7), 'full')).toBe(sha('seven'));
    expect(loaded.get(key(3), 'partial')).toBe('ffffffffffffffff');
    expect(loaded.get(key(3), 'full')).toBeUndefined();
    expect(loaded.get(key(3, 10, 1, 99), 'partial')).toBe('1');
    // Another size, mtime, device or inode: a miss.
    expect(loaded.get(key(7, 11), 'partial')).toBeUndefined();
    expect(loaded.get(key(7, 10, 5), 'partial')).toBeUndefined();
    expect(loaded.get(key(7, 10, 1_700_000_000_123.456, 1), 'partial')).toBeUndefined();
    expect(loaded.get(key(8), 'partial')).toBeUndefined();
  });

  it('loads bytes of another scheme, damaged or truncated bytes as an empty cache', () => {
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    cache.set(key(1), 'partial', 'aa');
    const bytes = cache.toBytes();
    expect(PersistentHashCache.load('another scheme', bytes).loadedEntries).toBe(0);
    expect(PersistentHashCache.load(HASH_SCHEME, bytes.subarray(0, bytes.length - 3)).loadedEntries).toBe(0);
    expect(PersistentHashCache.load(HASH_SCHEME, Buffer.from('not a cache at all')).loadedEntries).toBe(0);
    expect(PersistentHashCache.load(HASH_SCHEME, null).loadedEntries).toBe(0);
    // Unaligned bytes (a slice of a pooled buffer) load too.
    const unaligned = Buffer.concat([Buffer.from([1]), bytes]).subarray(1);
    expect(PersistentHashCache.load(HASH_SCHEME, unaligned).get(key(1), 'partial')).toBe('aa');
  });

  it('merges: a file hashed again replaces its old entry, other entries are kept, up to the limit', () => {
    const first = PersistentHashCache.empty(HASH_SCHEME);
    first.set(key(1), 'partial', 'a1');
    first.set(key(1), 'full', sha('one'));
    first.set(key(2), 'partial', 'b2');
    const second = PersistentHashCache.load(HASH_SCHEME, first.toBytes());
    // File 1 changed (new mtime): its old full hash must not survive with the new identity.
    second.set(key(1, 10, 42), 'partial', 'c3');
    second.set(key(5), 'full', sha('five'));
    const third = PersistentHashCache.load(HASH_SCHEME, second.toBytes());
    expect(third.get(key(1, 10, 42), 'partial')).toBe('c3');
    expect(third.get(key(1, 10, 42), 'full')).toBeUndefined();
    expect(third.get(key(1), 'partial')).toBeUndefined();
    expect(third.get(key(2), 'partial')).toBe('b2');
    expect(third.get(key(5), 'full')).toBe(sha('five'));
    // The limit keeps what this run learned first.
    const limited = PersistentHashCache.load(HASH_SCHEME, second.toBytes(2));
    expect(limited.loadedEntries).toBe(2);
    expect(limited.get(key(1, 10, 42), 'partial')).toBe('c3');
    expect(limited.get(key(5), 'full')).toBe(sha('five'));
  });

  it('ignores hashes not in the hasher\u2019s form rather than storing them altered', () => {
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    cache.set(key(1), 'partial', '00ff');
    cache.set(key(2), 'full', 'XYZ');
    expect(cache.learned).toBe(0);
  });

  describe('with findDuplicates', () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(path.join(os.tmpdir(), 'fo-persistent-cache-'));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it('a second search through the stored cache reads nothing and finds the same groups', async () => {
      const { lstatSync } = await import('node:fs');
      const files: CandidateFile[] = [];
      const write = (name: string, content: string): void => {
        const file = path.join(root, name);
        writeFileSync(file, content);
        const st = lstatSync(file);
        files.push({ path: file, size: st.size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs });
      };
      write('a', 'same content');
      write('b', 'same content');
      write('c', 'other conten');
      const cache = PersistentHashCache.empty(HASH_SCHEME);
      const first = await findDuplicates(files, { threads: 0, cache });
      expect(first.stats.bytesRead).toBeGreaterThan(0);
      const again = PersistentHashCache.load(HASH_SCHEME, cache.toBytes());
      const second = await findDuplicates(files, { threads: 0, cache: again });
      expect(second.stats.bytesRead).toBe(0);
      expect(second.groups).toEqual(first.groups);
      expect(second.groups.map((g) => g.paths.map((p) => path.basename(p)))).toEqual([['a', 'b']]);
    });
  });
});
