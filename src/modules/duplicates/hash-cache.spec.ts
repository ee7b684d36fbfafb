import { InMemoryHashCache } from './hash-cache.js';

describe('InMemoryHashCache', () => {
  const file = { dev: 1, ino: 42, size: 100, mtimeMs: 1000.5 };

  it('returns what was set for the same device, inode, size and mtime, per kind', () => {
    const cache = new InMemoryHashCache();
    expect(cache.get(file, 'full')).toBeUndefined();
    cache.set(file, 'partial', 'p');
    cache.set(file, 'full', 'f');
    expect(cache.get({ ...file }, 'partial')).toBe('p');
    expect(cache.get({ ...file }, 'full')).toBe('f');
    expect(cache.size).toBe(1);
  });

  it('misses when any part of the identity differs', () => {
    const cache = new InMemoryHashCache();
    cache.set(file, 'full', 'f');
    expect(cache.get({ ...file, dev: 2 }, 'full')).toBeUndefined();
    expect(cache.get({ ...file, ino: 43 }, 'full')).toBeUndefined();
    expect(cache.get({ ...file, size: 101 }, 'full')).toBeUndefined();
    expect(cache.get({ ...file, mtimeMs: 1000.6 }, 'full')).toBeUndefined();
  });

  it('drops the old hashes of a file that changed', () => {
    const cache = new InMemoryHashCache();
    cache.set(file, 'partial', 'p');
    cache.set(file, 'full', 'f');
    const changed = { ...file, mtimeMs: 2000 };
    cache.set(changed, 'partial', 'p2');
    expect(cache.get(changed, 'partial')).toBe('p2');
    expect(cache.get(changed, 'full')).toBeUndefined();
    expect(cache.get(file, 'full')).toBeUndefined();
    expect(cache.size).toBe(1);
    cache.set({ ...file, dev: 9 }, 'full', 'other device');
    expect(cache.size).toBe(2);
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
