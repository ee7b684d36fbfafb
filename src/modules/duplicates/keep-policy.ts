/**
 * Which copy of a duplicate group stays. Pure functions, no I/O.
 *
 * - `oldest` (default): earliest modification time, then the shortest path, then path order.
 * - `newest`: latest modification time, then the shortest path, then path order.
 * - `shortest_path`: shortest path, then earliest modification time, then path order.
 *
 * "Shortest" counts UTF-16 code units of the path (`path.length`); all paths of a group are under
 * the same root, so absolute and root-relative paths order alike. "Path order" is JavaScript
 * string order (code units), the order `Array.prototype.sort` gives. Modification times compare
 * exactly as given (mtimeMs). The last rule is a total order on distinct paths, so the choice is
 * always unique and does not depend on the input order.
 */
export const KEEP_POLICIES = ['oldest', 'newest', 'shortest_path'] as const;
export type KeepPolicy = (typeof KEEP_POLICIES)[number];
export const DEFAULT_KEEP_POLICY: KeepPolicy = 'oldest';

export interface KeepCandidate {
  path: string;
  mtimeMs: number;
}

export function isKeepPolicy(value: unknown): value is KeepPolicy {
  return typeof value === 'string' && (KEEP_POLICIES as readonly string[]).includes(value);
}

const byPathOrder = (a: KeepCandidate, b: KeepCandidate): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
const byLength = (a: KeepCandidate, b: KeepCandidate): number => a.path.length - b.path.length;
const byOldest = (a: KeepCandidate, b: KeepCandidate): number => a.mtimeMs - b.mtimeMs;
const byNewest = (a: KeepCandidate, b: KeepCandidate): number => b.mtimeMs - a.mtimeMs;

/** Comparator that puts the file to keep first. */
export function keepComparator(
  policy: KeepPolicy = DEFAULT_KEEP_POLICY,
): (a: KeepCandidate, b: KeepCandidate) => number {
  switch (policy) {
    case 'oldest':
      return (a, b) => byOldest(a, b) || byLength(a, b) || byPathOrder(a, b);
    case 'newest':
      return (a, b) => byNewest(a, b) || byLength(a, b) || byPathOrder(a, b);
    case 'shortest_path':
      return (a, b) => byLength(a, b) || byOldest(a, b) || byPathOrder(a, b);
    default: {
      const unknown: never = policy;
      throw new Error(`unknown keep policy: ${String(unknown)}`);
    }
  }
}

/** The group's files in keep order: the first is the one to keep; if it is gone, the next. */
export function orderForKeep<T extends KeepCandidate>(
  files: readonly T[],
  policy: KeepPolicy = DEFAULT_KEEP_POLICY,
): T[] {
  return [...files].sort(keepComparator(policy));
}

/** The file to keep. Throws on an empty list. */
export function selectKeeper<T extends KeepCandidate>(
  files: readonly T[],
  policy: KeepPolicy = DEFAULT_KEEP_POLICY,
): T {
  if (files.length === 0) throw new RangeError('selectKeeper: empty group');
  const compare = keepComparator(policy);
  let best = files[0];
  for (let i = 1; i < files.length; i++) if (compare(files[i], best) < 0) best = files[i];
  return best;
}
