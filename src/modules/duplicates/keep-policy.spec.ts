import { isKeepPolicy, keepComparator, orderForKeep, selectKeeper, type KeepCandidate } from './keep-policy.js';

const f = (path: string, mtimeMs: number): KeepCandidate => ({ path, mtimeMs });

/** Every order of the input must give the same keeper. */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

describe('keep policy', () => {
  it('oldest (the default): earliest mtime first', () => {
    const files = [f('/r/b/new.txt', 300), f('/r/a/old.txt', 100), f('/r/mid.txt', 200)];
    expect(selectKeeper(files).path).toBe('/r/a/old.txt');
    expect(selectKeeper(files, 'oldest').path).toBe('/r/a/old.txt');
  });

  it('oldest: equal mtimes go to the shortest path, then to path order', () => {
    const files = [f('/r/deep/x.txt', 100), f('/r/b.txt', 100), f('/r/a.txt', 100), f('/r/z.txt', 50.5)];
    expect(selectKeeper(files, 'oldest').path).toBe('/r/z.txt');
    const tied = files.slice(0, 3);
    for (const order of permutations(tied)) expect(selectKeeper(order, 'oldest').path).toBe('/r/a.txt');
    expect(orderForKeep(tied, 'oldest').map((x) => x.path)).toEqual(['/r/a.txt', '/r/b.txt', '/r/deep/x.txt']);
  });

  it('newest: latest mtime first; ties by shortest path, then path order', () => {
    const files = [f('/r/old.txt', 100), f('/r/long/new.txt', 300), f('/r/new.txt', 300), f('/r/neu.txt', 300)];
    for (const order of permutations(files)) expect(selectKeeper(order, 'newest').path).toBe('/r/neu.txt');
    expect(orderForKeep(files, 'newest').map((x) => x.path)).toEqual([
      '/r/neu.txt',
      '/r/new.txt',
      '/r/long/new.txt',
      '/r/old.txt',
    ]);
  });

  it('shortest_path: shortest first; ties by oldest mtime, then path order', () => {
    const files = [f('/r/aaaa/x', 1), f('/r/b', 300), f('/r/c', 200), f('/r/d', 200)];
    for (const order of permutations(files)) expect(selectKeeper(order, 'shortest_path').path).toBe('/r/c');
    expect(orderForKeep(files, 'shortest_path').map((x) => x.path)).toEqual(['/r/c', '/r/d', '/r/b', '/r/aaaa/x']);
  });

  it('path order is JavaScript string order (code units), not locale order', () => {
    const files = [f('/r/b', 1), f('/r/B', 1), f('/r/a', 1)];
    expect(selectKeeper(files).path).toBe('/r/B');
  });

  it('keeps the single file of a one-file list and refuses an empty one', () => {
    expect(selectKeeper([f('/r/only', 5)], 'newest').path).toBe('/r/only');
    expect(() => selectKeeper([])).toThrow(RangeError);
  });

  it('orderForKeep does not change its input and selectKeeper returns the same object', () => {
    const files = [f('/r/2', 2), f('/r/1', 1)];
    const copy = [...files];
    expect(orderForKeep(files)[0]).toBe(files[1]);
    expect(files).toEqual(copy);
    expect(selectKeeper(files)).toBe(files[1]);
    expect(keepComparator('oldest')(files[0], files[0])).toBe(0);
  });

  it('recognizes the policy names', () => {
    expect(['oldest', 'newest', 'shortest_path'].every(isKeepPolicy)).toBe(true);
    expect(isKeepPolicy('largest')).toBe(false);
    expect(isKeepPolicy(undefined)).toBe(false);
  });
});
