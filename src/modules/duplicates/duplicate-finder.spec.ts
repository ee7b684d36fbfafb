import swc from '@swc/core';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { namesByInode, normalizeGroups, parseGroups } from '../../../bench/peer-output.js';
import { generateTree, type GeneratedTree } from '../../../bench/tree-generator.js';
import { walkFiles } from '../../../bench/walk.js';
import { findDuplicates, hashThreadsFor } from './duplicate-finder.js';
import type { CandidateFile, DuplicateProgress } from './duplicates.types.js';
import { HASH_SCHEME } from './file-hasher.js';
import { PersistentHashCache } from './persistent-hash-cache.js';
import { closeHashWorkers, hashWorkerThreads, releaseIdleHashWorkers } from './hash-pool.js';

const groupPaths = (groups: { paths: string[] }[]): string[][] =>
  groups.map((g) => g.paths).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

describe('findDuplicates on a generated tree', () => {
  let dir: string;
  let tree: GeneratedTree;
  let files: CandidateFile[];

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fo-dup-'));
    tree = generateTree({
      root: dir,
      files: 320,
      seed: 42,
      groupSizes: [2, 3, 7],
      duplicateRatio: 0.1,
      decoyRatio: 0.08,
      emptyRatio: 0.02,
      hardLinkRatio: 0.01,
      filesPerDir: 40,
    });
    files = walkFiles(dir);
  });

  afterAll(async () => {
    await closeHashWorkers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the tree the tests rely on', () => {
    const sizes = tree.expectedGroups.map((g) => g.length);
    expect(sizes).toEqual(expect.arrayContaining([2, 3, 7]));
    for (const kind of ['size', 'head', 'middle', 'headOnly', 'last'] as const) {
      expect(tree.stats.decoys[kind]).toBeGreaterThanOrEqual(2);
    }
    expect(tree.files.filter((f) => f.decoy === 'middle').every((f) => f.size > 8192)).toBe(true);
    expect(tree.stats.emptyFiles).toBeGreaterThanOrEqual(2);
    expect(tree.stats.hardLinks).toBeGreaterThanOrEqual(2);
    expect(files).toHaveLength(320);
  });

  it('generates the same tree from the same seed, and another from another seed', () => {
    const digest = (root: string, seed: number): string[] => {
      const t = generateTree({ root, files: 60, seed, filesPerDir: 20 });
      return t.files.map(
        (f) => `${path.relative(root, f.path)} ${createHash('sha256').update(readFileSync(f.path)).digest('hex')}`,
      );
    };
    const [a, b, c] = [1, 2, 3].map(() => mkdtempSync(path.join(os.tmpdir(), 'fo-gen-')));
    try {
      expect(digest(a, 7)).toEqual(digest(b, 7));
      expect(digest(c, 8)).not.toEqual(digest(a, 7));
    } finally {
      for (const d of [a, b, c]) rmSync(d, { recursive: true, force: true });
    }
  });

  it('finds exactly the groups the generator made', async () => {
    const result = await findDuplicates(files, { threads: 0 });
    expect(result.errors).toEqual([]);
    expect(groupPaths(result.groups)).toEqual(tree.expectedGroups);
    for (const group of result.groups) {
      expect(group.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(group.size).toBeGreaterThan(0);
      expect([...group.paths].sort()).toEqual(group.paths);
    }
    // Deterministic order: largest first, then by first path.
    const order = [...result.groups].sort((a, b) => b.size - a.size || (a.paths[0] < b.paths[0] ? -1 : 1));
    expect(result.groups).toEqual(order);
  });

  it('never groups decoys, empty files or a second name of a hard-linked file', async () => {
    const result = await findDuplicates(files, { threads: 0 });
    const grouped = new Set(result.groups.flatMap((g) => g.paths));
    for (const f of tree.files.filter((f) => f.kind === 'decoy' || f.kind === 'empty')) {
      expect(grouped.has(f.path)).toBe(false);
    }
    for (const alias of result.hardLinks) expect(grouped.has(alias.path)).toBe(false);
    expect(result.stats.emptyFiles).toBe(tree.stats.emptyFiles);
    // Each hard link the generator made is reported against the smallest name of its inode.
    const names = namesByInode(files);
    expect(result.hardLinks.map((h) => h.path).sort()).toEqual(
      files
        .filter((f) => f.size > 0 && names(f.path).sort()[0] !== f.path)
        .map((f) => f.path)
        .sort(),
    );
    for (const alias of result.hardLinks) expect(alias.representative).toBe(names(alias.path).sort()[0]);
  });

  it('agrees with jdupes -r -q exactly, with and without -H', async () => {
    const result = await findDuplicates(files, { threads: 0 });
    const ours = groupPaths(result.groups);
    const names = namesByInode(files);
    for (const args of [
      ['-r', '-q'],
      ['-r', '-q', '-H'],
    ]) {
      const run = spawnSync('jdupes', [...args, dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      if (run.error) throw new Error(`jdupes is needed for this test (apt-get install jdupes): ${run.error.message}`);
      expect(run.status).toBe(0);
      expect(normalizeGroups(parseGroups(run.stdout), names)).toEqual(ours);
    }
  });

  it('reuses cached hashes: an unchanged tree is not read again', async () => {
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    const first = await findDuplicates(files, { threads: 0, cache });
    expect(first.stats.bytesRead).toBeGreaterThan(0);
    const second = await findDuplicates(files, {
      threads: 0,
      cache: PersistentHashCache.load(HASH_SCHEME, cache.toBytes()),
    });
    expect(second.stats.bytesRead).toBe(0);
    expect(second.stats.partialHashed + second.stats.fullHashed).toBe(0);
    expect(second.groups).toEqual(first.groups);
  });

  it('reports progress up to every candidate file', async () => {
    const seen: DuplicateProgress[] = [];
    const result = await findDuplicates(files, { threads: 0, onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(0);
    const last = seen[seen.length - 1];
    expect(last.filesHashed).toBe(last.filesTotal);
    expect(last.filesTotal).toBe(result.stats.candidates);
    expect(last.bytesHashed).toBe(result.stats.bytesRead);
    for (let i = 1; i < seen.length; i++) expect(seen[i].filesHashed).toBeGreaterThanOrEqual(seen[i - 1].filesHashed);
  });

  it('rejects with AbortError when aborted, before or during the run', async () => {
    const before = new AbortController();
    before.abort();
    await expect(findDuplicates(files, { threads: 0, signal: before.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
    const during = new AbortController();
    const run = findDuplicates(files, {
      threads: 0,
      batchFiles: 8,
      signal: during.signal,
      onProgress: () => during.abort(),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('gives the same groups on worker threads (worker compiled with SWC)', async () => {
    const out = path.join(process.cwd(), 'test-artifacts', `hash-worker-${process.pid}`);
    mkdirSync(out, { recursive: true });
    try {
      // The worker's imports, at their places under src/ (so that their relative imports resolve).
      const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
      for (const name of [
        'modules/duplicates/hash.worker',
        'modules/duplicates/file-hasher',
        'common/read-ahead',
        'common/libc',
      ]) {
        const { code } = swc.transformFileSync(path.join(src, `${name}.ts`), {
          jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
          module: { type: 'es6' },
        });
        mkdirSync(path.dirname(path.join(out, name)), { recursive: true });
        writeFileSync(path.join(out, `${name}.js`), code);
      }
      const workerUrl = pathToFileURL(path.join(out, 'modules/duplicates/hash.worker.js'));
      const threaded = await findDuplicates(files, { threads: 2, workerUrl, batchFiles: 8 });
      const inThread = await findDuplicates(files, { threads: 0 });
      expect(threaded.stats.threads).toBe(2);
      expect(threaded.groups).toEqual(inThread.groups);
      expect(threaded.stats.bytesRead).toBe(inThread.stats.bytesRead);
      // The threads stay for the next searches, which may run at the same time.
      const [again, meanwhile] = await Promise.all([
        findDuplicates(files, { threads: 2, workerUrl, batchFiles: 8 }),
        findDuplicates(files, { threads: 2, workerUrl, batchFiles: 8, cache: PersistentHashCache.empty(HASH_SCHEME) }),
      ]);
      expect(again.stats.threads).toBe(2);
      expect(again.groups).toEqual(inThread.groups);
      expect(meanwhile.groups).toEqual(inThread.groups);

      const controller = new AbortController();
      const aborted = findDuplicates(files, {
        threads: 2,
        workerUrl,
        batchFiles: 8,
        signal: controller.signal,
        onProgress: () => controller.abort(),
      });
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });

      // Released while a search may be running: it finishes all the same; once idle, the threads end.
      expect(hashWorkerThreads()).toBe(2);
      const running = findDuplicates(files, { threads: 2, workerUrl, batchFiles: 8 });
      await releaseIdleHashWorkers();
      expect(hashWorkerThreads()).toBe(2);
      expect((await running).groups).toEqual(inThread.groups);
      // Idle once the aborted search's last batch in flight is back too (its result is ignored; on a
      // loaded machine it can still be in a thread when `running` ends): released then, not before.
      for (const deadline = Date.now() + 10_000; hashWorkerThreads() > 0 && Date.now() < deadline;) {
        await releaseIdleHashWorkers();
        if (hashWorkerThreads() > 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(hashWorkerThreads()).toBe(0);
      const afterwards = await findDuplicates(files, { threads: 2, workerUrl, batchFiles: 8 });
      expect(afterwards.stats.threads).toBe(2);
      expect(afterwards.groups).toEqual(inThread.groups);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('falls back to the calling thread when the worker keeps dying', async () => {
    const out = path.join(process.cwd(), 'test-artifacts', `bad-worker-${process.pid}`);
    mkdirSync(out, { recursive: true });
    try {
      writeFileSync(path.join(out, 'bad.worker.mjs'), "throw new Error('boom');\n");
      const workerUrl = pathToFileURL(path.join(out, 'bad.worker.mjs'));
      const result = await findDuplicates(files, { threads: 2, workerUrl, batchFiles: 8 });
      expect(result.stats.threads).toBe(0);
      expect(groupPaths(result.groups)).toEqual(tree.expectedGroups);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('falls back to the calling thread when the worker file is missing', async () => {
    const result = await findDuplicates(files, { threads: 2, workerUrl: new URL('file:///nonexistent/worker.js') });
    expect(result.stats.threads).toBe(0);
    expect(groupPaths(result.groups)).toEqual(tree.expectedGroups);
  });
});

describe('findDuplicates on hand-made files', () => {
  let dir: string;
  const write = (name: string, content: string | Buffer): string => {
    const p = path.join(dir, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
    return p;
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fo-dup-hand-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('treats a hard-link pair as one file, and keeps its smallest name in a group with a real copy', async () => {
    const a = write('a.txt', 'same content\n');
    const b = path.join(dir, 'b.txt');
    linkSync(a, b);
    let result = await findDuplicates(walkFiles(dir), { threads: 0 });
    expect(result.groups).toEqual([]);
    expect(result.hardLinks).toEqual([{ path: b, representative: a }]);
    expect(result.stats.candidates).toBe(0);

    const c = write('c.txt', 'same content\n');
    result = await findDuplicates(walkFiles(dir), { threads: 0 });
    expect(groupPaths(result.groups)).toEqual([[a, c]]);
    expect(result.hardLinks).toEqual([{ path: b, representative: a }]);
  });

  it('keeps the smallest of three names of one inode, whatever the input order, and one name given twice', async () => {
    const c = write('c.txt', 'three names\n');
    const a = path.join(dir, 'a.txt');
    const b = path.join(dir, 'b.txt');
    linkSync(c, a);
    linkSync(c, b);
    const d = write('d.txt', 'three names\n');
    const listed = walkFiles(dir);
    const byName = (p: string) => listed.find((f) => f.path === p)!;
    const files = [byName(c), byName(d), byName(b), byName(a), byName(b)];
    const result = await findDuplicates(files, { threads: 0 });
    expect(groupPaths(result.groups)).toEqual([[a, d]]);
    expect(result.hardLinks).toEqual([
      { path: b, representative: a },
      { path: c, representative: a },
    ]);
    expect(result.stats.candidates).toBe(2);
  });

  it('ignores empty files and a path given twice', async () => {
    write('e1', '');
    write('e2', '');
    const x = write('x', 'x');
    const files = walkFiles(dir);
    const result = await findDuplicates([...files, ...files.filter((f) => f.path === x)], { threads: 0 });
    expect(result.groups).toEqual([]);
    expect(result.hardLinks).toEqual([]);
    expect(result.stats.emptyFiles).toBe(2);
  });

  it('never merges files without a known inode (ino 0) and does not cache them', async () => {
    const p1 = write('s1', 'same');
    const p2 = write('s2', 'same');
    const files = walkFiles(dir).map((f) => ({ ...f, dev: 0, ino: 0 }));
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    const result = await findDuplicates(files, { threads: 0, cache });
    expect(groupPaths(result.groups)).toEqual([[p1, p2]]);
    expect(result.hardLinks).toEqual([]);
    expect(cache.learned).toBe(0);
  });

  it('splits one size group into its sets of equal content, small groups and large ones alike', async () => {
    // A 25-file group of 8-byte files (matched through buckets) and a 6-file group of 3-byte files
    // (matched pairwise; three copies of one content catch a file put in a set twice), the large
    // one written in an interleaved order so that members of one set are not next to each other.
    const expected: string[][] = [];
    const large: string[] = [];
    for (const [letter, copies] of [
      ['A', 7],
      ['B', 6],
      ['C', 2],
      ['D', 1],
      ['E', 1],
      ['F', 1],
      ['G', 1],
    ] as const) {
      for (let i = 0; i < copies; i++) large.push(letter);
    }
    const sets = new Map<string, string[]>();
    large.forEach((letter, i) => {
      const name = `big-${String((i * 7) % large.length).padStart(2, '0')}`;
      const file = write(name, letter.repeat(7) + '\n');
      sets.set(letter, [...(sets.get(letter) ?? []), file]);
    });
    for (const [letter, copies] of [
      ['a', 3],
      ['b', 2],
      ['c', 1],
    ] as const) {
      for (let i = 0; i < copies; i++)
        sets.set(letter, [...(sets.get(letter) ?? []), write(`s-${letter}${i}`, letter.repeat(3))]);
    }
    for (const files of sets.values()) if (files.length > 1) expected.push([...files].sort());
    const result = await findDuplicates(walkFiles(dir), { threads: 0 });
    expect(groupPaths(result.groups)).toEqual(expected.sort((x, y) => (x[0] < y[0] ? -1 : 1)));
    expect(result.groups.map((g) => g.paths.length).sort()).toEqual([2, 2, 3, 6, 7]);
  });

  it('keeps two files that share an inode number on two devices apart', async () => {
    const a = write('a', 'same bytes');
    const b = write('b', 'same bytes');
    const [fa, fb] = [a, b].map((p) => walkFiles(dir).find((f) => f.path === p)!);
    // b claims a's inode on another device: not a second name of a (and not the file it is, so it fails).
    const result = await findDuplicates([fa, { ...fb, ino: fa.ino, dev: fa.dev + 1 }], { threads: 0 });
    expect(result.hardLinks).toEqual([]);
    expect(result.stats.candidates).toBe(2);
    expect(result.errors.map((e) => [e.path, e.code])).toEqual([[b, 'CHANGED']]);
  });

  it('compares big files by content: same head and tail, different middle', async () => {
    const base = Buffer.alloc(300 * 1024, 7);
    const p1 = write('one.bin', base);
    const p2 = write('two.bin', base);
    const middle = Buffer.from(base);
    middle[150 * 1024] = 8;
    write('middle.bin', middle);
    const result = await findDuplicates(walkFiles(dir), { threads: 0 });
    expect(groupPaths(result.groups)).toEqual([[p1, p2]]);
    expect(result.stats.partialHashed).toBe(3);
    expect(result.stats.fullHashed).toBe(3);
  });

  it('reports a vanished, a changed and a swapped file as errors and goes on', async () => {
    const keep1 = write('k1', 'dup dup dup');
    const keep2 = write('k2', 'dup dup dup');
    const gone = write('gone', 'dup dup dup');
    const grown = write('grown', 'dup dup dup');
    const swapped = write('swapped', 'dup dup dup');
    const files = walkFiles(dir);
    unlinkSync(gone);
    appendFileSync(grown, '!');
    unlinkSync(swapped);
    symlinkSync(keep1, swapped);
    const result = await findDuplicates(files, { threads: 0 });
    expect(groupPaths(result.groups)).toEqual([[keep1, keep2]]);
    expect(result.errors.map((e) => [path.basename(e.path), e.code])).toEqual([
      ['gone', 'ENOENT'],
      ['grown', 'CHANGED'],
      ['swapped', 'ELOOP'],
    ]);
    for (const e of result.errors) expect(e.message).not.toContain(dir);
  });

  it('re-reads a file whose modification time changed, and only that one', async () => {
    const p1 = write('p1', 'abc'.repeat(5000));
    const p2 = write('p2', 'abc'.repeat(5000));
    write('p3', 'abd'.repeat(5000));
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    await findDuplicates(walkFiles(dir), { threads: 0, cache });
    utimesSync(p2, new Date(), new Date(Date.now() + 5000));
    const result = await findDuplicates(walkFiles(dir), {
      threads: 0,
      cache: PersistentHashCache.load(HASH_SCHEME, cache.toBytes()),
    });
    expect(groupPaths(result.groups)).toEqual([[p1, p2]]);
    expect(result.stats.partialHashed).toBe(1);
    expect(result.stats.fullHashed).toBe(1);
  });
});

describe('hashThreadsFor', () => {
  const files = (count: number, size: number): CandidateFile[] =>
    Array.from({ length: count }, (_, i) => ({ path: `/f${i}`, size, mtimeMs: 0, dev: 1, ino: i + 1 }));

  it('keeps a few small files on the calling thread, and hands anything larger to the hash threads', () => {
    expect(hashThreadsFor(files(5, 100))).toBe(0);
    expect(hashThreadsFor(files(64, 16 * 1024))).toBe(0);
    // One file more, or one byte more than 1 MiB in all: the default threads.
    expect(hashThreadsFor(files(65, 10))).toBeUndefined();
    expect(hashThreadsFor([...files(63, 16 * 1024), ...files(1, 16 * 1024 + 1)])).toBeUndefined();
    expect(hashThreadsFor(files(2, 4 * 1024 ** 3))).toBeUndefined();
  });
});
