import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, ftruncateSync, linkSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Deterministic test tree for duplicate detection: the same options (seed included) give the same
 * paths, sizes and bytes on every machine. Used by the duplicates specs (a few hundred files) and
 * by bench/duplicates.bench.ts (100,000 files).
 *
 * - Sizes: log-normal, median `medianSize` (4 KiB), spread `sigma` (1.8: mean ~20 KiB, so 100,000
 *   files are ~2 GB), at least 16 bytes, at most `maxSize` (4 MiB).
 * - Duplicates: `duplicateRatio` of all entries (10%) are redundant copies, in groups of
 *   `minGroup`..`maxGroup` copies (2..8, original included); `groupSizes` forces some groups first.
 * - Decoys (`decoyRatio`, 2%, spread over five kinds), each made from another file's content,
 *   preferring files that have copies:
 *   `size` same size, different content; `head` differs in its first byte; `middle` same head and
 *   tail blocks, one byte in the middle differs; `headOnly` same head, differs 2 KiB before the end
 *   (inside the tail block); `last` differs only in the last byte.
 * - Empty files (`emptyRatio`, 0.5%) and hard links (`hardLinkRatio`, 0.5%: extra names of files
 *   that are already in the tree, half of them of files that have copies).
 *
 * Every content starts with a unique 8-byte stamp (id and its complement), so two contents can only
 * be equal when the generator meant them to be; the rest comes from a seeded AES-CTR stream.
 *
 * `content: 'sparse'` makes the same paths, sizes, empty files and hard links, but every file is a
 * hole of its size (ftruncate, no data written): for listing benchmarks (bench/scan.bench.ts), where
 * only names and stat() count, a 1,000,000-file tree then costs inodes and seconds instead of
 * ~20 GB of writes. Its contents are all zeros, so `expectedGroups` is empty and means nothing.
 */
export interface TreeOptions {
  root: string;
  /** Directory entries to create, empty files and hard links included. */
  files: number;
  seed?: number;
  medianSize?: number;
  sigma?: number;
  maxSize?: number;
  duplicateRatio?: number;
  minGroup?: number;
  maxGroup?: number;
  /** Copy counts of groups made before the random ones, e.g. [2, 3, 7]. */
  groupSizes?: number[];
  decoyRatio?: number;
  emptyRatio?: number;
  hardLinkRatio?: number;
  filesPerDir?: number;
  /** 'full' (default): real bytes; 'sparse': sizes only, no data (see above). */
  content?: 'full' | 'sparse';
}

export type DecoyKind = 'size' | 'head' | 'middle' | 'headOnly' | 'last';
export const DECOY_KINDS: readonly DecoyKind[] = ['size', 'head', 'middle', 'headOnly', 'last'];

export interface GeneratedFile {
  /** Absolute. */
  path: string;
  size: number;
  kind: 'unique' | 'copy' | 'decoy' | 'empty' | 'hardlink';
  decoy?: DecoyKind;
}

export interface GeneratedTree {
  root: string;
  files: GeneratedFile[];
  /**
   * The duplicate groups a correct finder returns: one path per inode (the smallest name of a
   * hard-linked file), paths sorted, groups sorted by their first path.
   */
  expectedGroups: string[][];
  hardLinks: { path: string; target: string }[];
  stats: {
    files: number;
    /** Bytes of distinct inodes. */
    bytes: number;
    groups: number;
    redundantCopies: number;
    reclaimableBytes: number;
    decoys: Record<DecoyKind, number>;
    emptyFiles: number;
    hardLinks: number;
  };
}

const BLOCK = 4096;
const MIN_SIZE = 16;
const POOL_SIZE = 16 * 1024 * 1024;
const EXTENSIONS = ['jpg', 'png', 'pdf', 'txt', 'docx', 'mp3', 'mp4', 'zip', 'csv', 'json', 'bin', 'log'];

/** sfc32: small, fast, good enough for test data. */
export function createRng(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

interface Content {
  id: number;
  size: number;
  offset: number;
  decoy?: { kind: Exclude<DecoyKind, 'size'>; base: Content };
}

interface Entry {
  content: Content | null;
  kind: GeneratedFile['kind'];
  decoy?: DecoyKind;
}

export function generateTree(options: TreeOptions): GeneratedTree {
  const o = {
    seed: 1,
    medianSize: 4096,
    sigma: 1.8,
    maxSize: 4 * 1024 * 1024,
    duplicateRatio: 0.1,
    minGroup: 2,
    maxGroup: 8,
    groupSizes: [] as number[],
    decoyRatio: 0.02,
    emptyRatio: 0.005,
    hardLinkRatio: 0.005,
    filesPerDir: 100,
    content: 'full' as 'full' | 'sparse',
    ...options,
  };
  const rng = createRng(o.seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
  const logNormal = (): number => {
    const u = 1 - rng();
    const v = rng();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.min(o.maxSize, Math.max(MIN_SIZE, Math.round(o.medianSize * Math.exp(o.sigma * z))));
  };

  const total = o.files;
  const empties = Math.round(total * o.emptyRatio);
  const links = Math.round(total * o.hardLinkRatio);
  const decoyCount = Math.round(total * o.decoyRatio);
  const redundant = Math.max(
    Math.round(total * o.duplicateRatio),
    o.groupSizes.reduce((n, k) => n + k - 1, 0),
  );
  const contents: Content[] = [];
  const newContent = (size: number): Content => {
    const content = { id: contents.length, size, offset: int(0, POOL_SIZE - size) };
    contents.push(content);
    return content;
  };

  // Groups of copies: forced ones first, then random sizes until the redundant count is reached.
  const entries: Entry[] = [];
  const grouped: Content[] = [];
  let copiesLeft = redundant;
  const queue = [...o.groupSizes];
  while (copiesLeft > 0) {
    let k = queue.shift() ?? int(o.minGroup, o.maxGroup);
    k = Math.min(k, copiesLeft + 1);
    if (k < 2) break;
    const content = newContent(logNormal());
    grouped.push(content);
    entries.push({ content, kind: 'unique' });
    for (let i = 1; i < k; i++) entries.push({ content, kind: 'copy' });
    copiesLeft -= k - 1;
  }

  const uniquesWanted = Math.max(0, total - empties - links - decoyCount - entries.length);
  for (let i = 0; i < uniquesWanted; i++) entries.push({ content: newContent(logNormal()), kind: 'unique' });

  // Decoys, round-robin over the kinds; bases from grouped contents when possible.
  const used = new Set<string>();
  const bigEnough = (c: Content): boolean => c.size > 2 * BLOCK;
  const pickBase = (kind: DecoyKind): Content | undefined => {
    const fits = (c: Content): boolean =>
      !c.decoy && (kind === 'middle' || kind === 'headOnly' ? bigEnough(c) : true) && !used.has(`${c.id}:${kind}`);
    for (let tries = 0; tries < 50; tries++) {
      const pool = tries < 25 && grouped.length > 0 ? grouped : contents;
      const c = pool[int(0, pool.length - 1)];
      if (c && fits(c)) return c;
    }
    return contents.find(fits);
  };
  const decoyStats: Record<DecoyKind, number> = { size: 0, head: 0, middle: 0, headOnly: 0, last: 0 };
  for (let i = 0; i < decoyCount; i++) {
    const kind = DECOY_KINDS[i % DECOY_KINDS.length];
    const base = pickBase(kind);
    if (!base) {
      entries.push({ content: newContent(logNormal()), kind: 'unique' });
      continue;
    }
    used.add(`${base.id}:${kind}`);
    decoyStats[kind]++;
    const content =
      kind === 'size'
        ? newContent(base.size)
        : { id: contents.length, size: base.size, offset: base.offset, decoy: { kind, base } };
    if (kind !== 'size') contents.push(content);
    entries.push({ content, kind: 'decoy', decoy: kind });
  }
  for (let i = 0; i < empties; i++) entries.push({ content: null, kind: 'empty' });

  // Shuffle, then lay out in folders of `filesPerDir`.
  for (let i = entries.length - 1; i > 0; i--) {
    const j = int(0, i);
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  const dirOf = (k: number): string =>
    path.join(o.root, `d${String(Math.floor(k / 32)).padStart(3, '0')}`, `s${String(k % 32).padStart(2, '0')}`);
  const ext = (): string => EXTENSIONS[int(0, EXTENSIONS.length - 1)];

  const sparse = o.content === 'sparse';
  // A sparse tree never renders content: no key stream, no 4 MiB scratch buffer.
  const pool = sparse ? Buffer.alloc(0) : keyStream(o.seed, POOL_SIZE);
  const scratch = Buffer.allocUnsafe(sparse ? 0 : o.maxSize);
  const render = (c: Content): Buffer => {
    const source = c.decoy ? c.decoy.base : c;
    pool.copy(scratch, 0, source.offset, source.offset + c.size);
    scratch.writeUInt32LE(source.id, 0);
    scratch.writeUInt32LE(~source.id >>> 0, 4);
    switch (c.decoy?.kind) {
      case 'head':
        scratch[0] ^= 0xff;
        break;
      case 'middle':
        scratch[Math.floor(c.size / 2)] ^= 0xff;
        break;
      case 'headOnly':
        scratch[c.size - BLOCK / 2] ^= 0xff;
        break;
      case 'last':
        scratch[c.size - 1] ^= 0xff;
        break;
      default:
        break;
    }
    return scratch.subarray(0, c.size);
  };

  const files: GeneratedFile[] = [];
  const pathsOf = new Map<Content, string[]>();
  let dir = '';
  entries.forEach((entry, i) => {
    if (i % o.filesPerDir === 0) {
      dir = dirOf(i / o.filesPerDir);
      mkdirSync(dir, { recursive: true });
    }
    const file = path.join(dir, `f${String(i).padStart(7, '0')}.${ext()}`);
    const size = entry.content?.size ?? 0;
    if (sparse) {
      const fd = openSync(file, 'w');
      try {
        if (size > 0) ftruncateSync(fd, size);
      } finally {
        closeSync(fd);
      }
    } else writeFileSync(file, entry.content ? render(entry.content) : Buffer.alloc(0));
    files.push({ path: file, size, kind: entry.kind, decoy: entry.decoy });
    if (entry.content) {
      const list = pathsOf.get(entry.content);
      if (list) list.push(file);
      else pathsOf.set(entry.content, [file]);
    }
  });

  // Hard links: half to files that have copies, half to any non-empty file.
  const linkable = files.filter((f) => f.size > 0);
  const inGroups = files.filter((f) => f.kind === 'copy');
  const hardLinks: { path: string; target: string }[] = [];
  const namesOf = new Map<string, string[]>();
  for (let i = 0; i < links && linkable.length > 0; i++) {
    const from = i % 2 === 0 && inGroups.length > 0 ? inGroups : linkable;
    const target = from[int(0, from.length - 1)];
    const k = int(0, Math.max(0, Math.ceil(entries.length / o.filesPerDir) - 1));
    const link = path.join(dirOf(k), `l${String(i).padStart(7, '0')}.${ext()}`);
    linkSync(target.path, link);
    hardLinks.push({ path: link, target: target.path });
    files.push({ path: link, size: target.size, kind: 'hardlink' });
    const names = namesOf.get(target.path);
    if (names) names.push(link);
    else namesOf.set(target.path, [link]);
  }

  // Expected groups: contents with two or more inodes, each inode named by its smallest path.
  const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const expectedGroups: string[][] = [];
  let bytes = 0;
  let redundantCopies = 0;
  let reclaimableBytes = 0;
  for (const [content, paths] of pathsOf) {
    bytes += content.size * paths.length;
    if (paths.length < 2 || sparse) continue;
    const reps = paths.map((p) => [p, ...(namesOf.get(p) ?? [])].sort(byString)[0]).sort(byString);
    expectedGroups.push(reps);
    redundantCopies += reps.length - 1;
    reclaimableBytes += content.size * (reps.length - 1);
  }
  expectedGroups.sort((a, b) => byString(a[0], b[0]));

  return {
    root: o.root,
    files,
    expectedGroups,
    hardLinks,
    stats: {
      files: files.length,
      bytes,
      groups: expectedGroups.length,
      redundantCopies,
      reclaimableBytes,
      decoys: decoyStats,
      emptyFiles: empties,
      hardLinks: hardLinks.length,
    },
  };
}

/** `length` pseudo-random bytes from AES-128-CTR keyed by the seed. */
function keyStream(seed: number, length: number): Buffer {
  const key = createHash('sha256').update(`fileorganizer-tree:${seed}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return cipher.update(Buffer.alloc(length));
}
