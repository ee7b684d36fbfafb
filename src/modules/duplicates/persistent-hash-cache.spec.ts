import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findDuplicates } from './duplicate-finder.js';
import type { CandidateFile } from './duplicates.types.js';
import { HASH_SCHEME } from './file-hasher.js';
import { COMPARISON_SORT_ROWS, PersistentHashCache } from './persistent-hash-cache.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const key = (ino: number, size = 10, mtimeMs = 1_700_000_000_123.456, dev = 2049) => ({ dev, ino, size, mtimeMs });

type Key = ReturnType<typeof key>;
type Kind = 'partial' | 'full';
/** The cache's numeric API, spelled in hex for readable tests (the engine never makes these strings). */
function set(cache: PersistentHashCache, k: Key, kind: Kind, hex: string): void {
  if (kind === 'full') return cache.learnFull(k, Buffer.from(hex, 'hex'), 0);
  const bits = BigInt(`0x${hex}`);
  cache.learnPartial(k, Number(bits & 0xffffffffn), Number(bits >> 32n));
}
function get(cache: PersistentHashCache, k: Key, kind: Kind): string | undefined {
  const entry = cache.find(k.dev, k.ino, k.size, k.mtimeMs);
  if (entry < 0) return undefined;
  if (kind === 'full') {
    const out = Buffer.alloc(32);
    return cache.copyFull(entry, out, 0) ? out.toString('hex') : undefined;
  }
  const words = new Uint32Array(2);
  return cache.copyPartial(entry, words, 0) ? ((BigInt(words[1]) << 32n) | BigInt(words[0])).toString(16) : undefined;
}

describe('PersistentHashCache', () => {
  it('answers what was stored after a round trip through bytes, for the same identity only', () => {
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    set(cache, key(7), 'partial', 'abc123');
    set(cache, key(7), 'full', sha('seven'));
    set(cache, key(3), 'partial', 'ffffffffffffffff');
    set(cache, key(3, 10, 1, 99), 'partial', '1');
    const loaded = PersistentHashCache.load(HASH_SCHEME, cache.toBytes());
    expect(loaded.loadedEntries).toBe(3);
    expect(get(loaded, key(7), 'partial')).toBe('abc123');
    expect(get(loaded, key(7), 'full')).toBe(sha('seven'));
    expect(get(loaded, key(3), 'partial')).toBe('ffffffffffffffff');
    expect(get(loaded, key(3), 'full')).toBeUndefined();
    expect(get(loaded, key(3, 10, 1, 99), 'partial')).toBe('1');
    // Another size, mtime, device or inode: a miss.
    expect(get(loaded, key(7, 11), 'partial')).toBeUndefined();
    expect(get(loaded, key(7, 10, 5), 'partial')).toBeUndefined();
    expect(get(loaded, key(7, 10, 1_700_000_000_123.456, 1), 'partial')).toBeUndefined();
    expect(get(loaded, key(8), 'partial')).toBeUndefined();
  });

  it('loads bytes of another scheme, damaged or truncated bytes as an empty cache', () => {
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    set(cache, key(1), 'partial', 'aa');
    const bytes = cache.toBytes();
    expect(PersistentHashCache.load('another scheme', bytes).loadedEntries).toBe(0);
    expect(PersistentHashCache.load(HASH_SCHEME, bytes.subarray(0, bytes.length - 3)).loadedEntries).toBe(0);
    expect(PersistentHashCache.load(HASH_SCHEME, Buffer.from('not a cache at all')).loadedEntries).toBe(0);
    expect(PersistentHashCache.load(HASH_SCHEME, null).loadedEntries).toBe(0);
    // Unaligned bytes (a slice of a pooled buffer) load too.
    const unaligned = Buffer.concat([Buffer.from([1]), bytes]).subarray(1);
    expect(get(PersistentHashCache.load(HASH_SCHEME, unaligned), key(1), 'partial')).toBe('aa');
  });

  it('merges: a file hashed again replaces its old entry, other entries are kept, up to the limit', () => {
    const first = PersistentHashCache.empty(HASH_SCHEME);
    set(first, key(1), 'partial', 'a1');
    set(first, key(1), 'full', sha('one'));
    set(first, key(2), 'partial', 'b2');
    const second = PersistentHashCache.load(HASH_SCHEME, first.toBytes());
    // File 1 changed (new mtime): its old full hash must not survive with the new identity.
    set(second, key(1, 10, 42), 'partial', 'c3');
    set(second, key(5), 'full', sha('five'));
    const third = PersistentHashCache.load(HASH_SCHEME, second.toBytes());
    expect(get(third, key(1, 10, 42), 'partial')).toBe('c3');
    expect(get(third, key(1, 10, 42), 'full')).toBeUndefined();
    expect(get(third, key(1), 'partial')).toBeUndefined();
    expect(get(third, key(2), 'partial')).toBe('b2');
    expect(get(third, key(5), 'full')).toBe(sha('five'));
    // The limit keeps what this run learned first.
    const limited = PersistentHashCache.load(HASH_SCHEME, second.toBytes(2));
    expect(limited.loadedEntries).toBe(2);
    expect(get(limited, key(1, 10, 42), 'partial')).toBe('c3');
    expect(get(limited, key(5), 'full')).toBe(sha('five'));
  });

  it('answers a lookup with an entry number, and -1 for a changed or unknown file', () => {
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    expect(cache.find(2049, 7, 10, 1)).toBe(-1);
    set(cache, key(7), 'partial', '123456789abcdef0');
    const loaded = PersistentHashCache.load(HASH_SCHEME, cache.toBytes());
    const entry = loaded.find(2049, 7, 10, 1_700_000_000_123.456);
    expect(entry).toBeGreaterThanOrEqual(0);
    const words = new Uint32Array(2);
    expect(loaded.copyPartial(entry, words, 0)).toBe(true);
    expect([...words]).toEqual([0x9abcdef0, 0x12345678]);
    expect(loaded.copyFull(entry, Buffer.alloc(32), 0)).toBe(false);
    expect(loaded.find(2049, 7, 11, 1_700_000_000_123.456)).toBe(-1);
    expect(loaded.find(2049, 7, 10, 1_700_000_000_123.457)).toBe(-1);
  });

  it('merges the hashes of a file learned apart (a large file: its partial hash, other files, then its full hash)', () => {
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    set(cache, key(1), 'partial', 'a1');
    set(cache, key(2), 'partial', 'b2');
    set(cache, key(1), 'full', sha('one'));
    set(cache, key(2), 'full', sha('two'));
    // The same file learned again for another identity (it changed): the newest identity wins.
    set(cache, key(3), 'partial', 'c3');
    set(cache, key(4), 'partial', 'd4');
    set(cache, key(3, 11), 'full', sha('three'));
    expect(cache.learned).toBe(7);
    const loaded = PersistentHashCache.load(HASH_SCHEME, cache.toBytes());
    expect(loaded.loadedEntries).toBe(4);
    expect([get(loaded, key(1), 'partial'), get(loaded, key(1), 'full')]).toEqual(['a1', sha('one')]);
    expect([get(loaded, key(2), 'partial'), get(loaded, key(2), 'full')]).toEqual(['b2', sha('two')]);
    expect(get(loaded, key(3), 'partial')).toBeUndefined();
    expect([get(loaded, key(3, 11), 'partial'), get(loaded, key(3, 11), 'full')]).toEqual([undefined, sha('three')]);
    expect(get(loaded, key(4), 'partial')).toBe('d4');
  });

  // Both sorts: a comparison sort for a few rows, the radix sort beyond.
  it.each([COMPARISON_SORT_ROWS - 50, COMPARISON_SORT_ROWS + 1, 2_000])(
    'orders what it writes by inode, then device, whatever order it learned in (%i rows learned)',
    (rows) => {
      // Inodes past 2^32, devices of several disks and the negative "devices" of ETag entries.
      let seed = 7;
      const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
      const keys: Key[] = [];
      for (let i = 0; i < rows; i += 1) {
        const ino = random() < 0.3 ? 2 ** 40 + Math.floor(random() * 2 ** 45) : Math.floor(random() * 3_000);
        const dev = [2049, 2050, 66_305, -1 - Math.floor(random() * 2 ** 40)][Math.floor(random() * 4)];
        keys.push(key(ino, 10 + (i % 3), 1_700_000_000_000 + i, dev));
      }
      const unique = [...new Map(keys.map((k) => [`${k.ino}:${k.dev}`, k])).values()];
      const cache = PersistentHashCache.empty(HASH_SCHEME);
      unique.forEach((k, i) => set(cache, k, 'partial', (i + 1).toString(16)));
      const bytes = cache.toBytes();
      // Loading checks the order: bytes out of order would load as an empty cache.
      const loaded = PersistentHashCache.load(HASH_SCHEME, bytes);
      expect(loaded.loadedEntries).toBe(unique.length);
      unique.forEach((k, i) => expect(get(loaded, k, 'partial')).toBe((i + 1).toString(16)));
      // Loaded entries written again as they are, and merged with newly learned ones in order.
      expect(loaded.toBytes().equals(bytes)).toBe(true);
      set(loaded, key(1_500, 99, 5, 2049), 'full', sha('new'));
      const merged = PersistentHashCache.load(HASH_SCHEME, loaded.toBytes());
      expect(merged.loadedEntries).toBe(
        unique.length + (unique.some((k) => k.ino === 1_500 && k.dev === 2049) ? 0 : 1),
      );
      expect(get(merged, key(1_500, 99, 5, 2049), 'full')).toBe(sha('new'));
    },
  );

  it('holds a few learned files in a few kilobytes (a small operation allocates no full segment)', () => {
    const before = process.memoryUsage().arrayBuffers;
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    for (let i = 0; i < 10; i += 1) cache.learnPartial(key(i + 1, 100, i), i, 0);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024);
    expect(PersistentHashCache.load(HASH_SCHEME, cache.toBytes()).loadedEntries).toBe(10);
  });

  it('holds a learned file in about 73 bytes, copying only its first segment as it grows', () => {
    const files = 100_000;
    const full = Buffer.alloc(32, 7);
    const before = process.memoryUsage().arrayBuffers;
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    for (let i = 0; i < files; i += 1) {
      const k = key(i + 1, 100, i);
      cache.learnPartial(k, i, 0);
      cache.learnFull(k, full, 0);
    }
    const held = process.memoryUsage().arrayBuffers - before;
    // The learned rows, plus at most one segment not yet filled (32,768 rows).
    expect(held).toBeLessThan((files + 32_768) * 74);
    expect(PersistentHashCache.load(HASH_SCHEME, cache.toBytes()).loadedEntries).toBe(files);
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
