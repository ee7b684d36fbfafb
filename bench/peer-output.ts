import { lstatSync } from 'node:fs';

/**
 * Parsing and normalizing the output of jdupes, fdupes and rmlint (`-o fdupes:FILE`): groups of
 * paths, one per line, separated by blank lines.
 *
 * Tools differ on hard links: jdupes without -H drops a name that is a hard link of a file already
 * in the set (but not always: it compares pairwise), jdupes -H, fdupes -H and rmlint list every
 * name, fdupes lists one name per inode. To compare groups honestly, every path is mapped to its
 * inode, each inode is named by its smallest path (the rule findDuplicates uses), and a group is
 * kept when it still has two or more inodes. What remains is exactly "which files have identical
 * bytes", on which all tools must agree.
 */
export function parseGroups(text: string): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current.length > 0) groups.push(current);
      current = [];
    } else current.push(line);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One path per inode (the smallest name; `names` maps a path to all the names of its inode, when
 * known, else the names that appear in the output are used), groups of two or more inodes, sorted.
 */
export function normalizeGroups(groups: string[][], allNamesOf?: (path: string) => string[]): string[][] {
  const out: string[][] = [];
  for (const group of groups) {
    const byInode = new Map<string, string>();
    for (const p of group) {
      const st = lstatSync(p);
      const key = `${st.dev}:${st.ino}`;
      const names = allNamesOf ? allNamesOf(p) : [p];
      const smallest = [...names, byInode.get(key) ?? names[0]].sort(byString)[0];
      byInode.set(key, smallest);
    }
    if (byInode.size > 1) out.push([...byInode.values()].sort(byString));
  }
  return out.sort((a, b) => byString(a[0], b[0]));
}

/** Builds `allNamesOf` from a walk: path -> every path with the same device and inode. */
export function namesByInode(files: readonly { path: string; dev: number; ino: number }[]): (path: string) => string[] {
  const byKey = new Map<string, string[]>();
  const keyOf = new Map<string, string>();
  for (const f of files) {
    const key = `${f.dev}:${f.ino}`;
    keyOf.set(f.path, key);
    const list = byKey.get(key);
    if (list) list.push(f.path);
    else byKey.set(key, [f.path]);
  }
  return (p) => byKey.get(keyOf.get(p) ?? '') ?? [p];
}
