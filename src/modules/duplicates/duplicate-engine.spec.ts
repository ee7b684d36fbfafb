import { createHash } from 'node:crypto';
import {
  createReadStream,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findDuplicates } from './duplicate-finder.js';
import type { CandidateFile } from './duplicates.types.js';
import { HASH_SCHEME } from './file-hasher.js';
import { localFileHashes, streamedHashes, trustedEtag, type ByteRange, type HashSource } from './hash-sources.js';
import { PersistentHashCache } from './persistent-hash-cache.js';

/**
 * The engine with each hash source over the same files on local disk: `local` (absolute paths,
 * read in the hash threads' FileHasher, here on the calling thread) and `streamed` (relative
 * paths read through a ByteStreams, as S3 is; the S3 backend itself is covered by
 * test/e2e/s3/duplicates-s3.e2e-spec.ts). Reads are counted: by the hasher's own counters for
 * `local`, by every openRead for `streamed`.
 */
interface Fixture {
  root: string;
  source: HashSource;
  /** The candidates for the files now on disk (optionally with ETags: MD5 of the bytes, as single-part S3 uploads have). */
  candidates(options?: { etags?: boolean }): CandidateFile[];
  /** Reads done by the source so far (files opened for hashing). */
  reads(): number;
  /** A group's paths, relative to the root. */
  relative(paths: string[]): string[];
}

function localFixture(root: string): Fixture {
  let reads = 0;
  const source = localFileHashes();
  return {
    root,
    source: {
      kind: source.kind,
      hash: async (run) => {
        const threads = await source.hash({
          ...run,
          done: (piece) => {
            reads += piece.partialHashed + piece.fullHashed;
            run.done(piece);
          },
        });
        return threads;
      },
    },
    candidates: () => walk(root, (rel, full) => ({ path: full, ...identity(full) })),
    reads: () => reads,
    relative: (paths) => paths.map((p) => path.relative(root, p)),
  };
}

function streamedFixture(root: string, trustEtags: boolean): Fixture {
  let reads = 0;
  const source = streamedHashes(
    {
      openRead: (relative: string, range?: ByteRange) => {
        reads++;
        return Promise.resolve(createReadStream(path.join(root, relative), range));
      },
    },
    { trustEtags },
  );
  return {
    root,
    source,
    candidates: (options) =>
      walk(root, (rel, full) => {
        const st = lstatSync(full);
        const etag = options?.etags ? `"${createHash('md5').update(readFileSync(full)).digest('hex')}"` : undefined;
        return { path: rel, size: st.size, mtimeMs: st.mtimeMs, dev: 0, ino: 0, etag };
      }),
    reads: () => reads,
    relative: (paths) => paths,
  };
}

function identity(full: string): Omit<CandidateFile, 'path'> {
  const st = lstatSync(full);
  return { size: st.size, mtimeMs: st.mtimeMs, dev: st.dev, ino: st.ino };
}

function walk(root: string, entry: (relative: string, full: string) => CandidateFile): CandidateFile[] {
  const out: CandidateFile[] = [];
  const visit = (folder: string): void => {
    for (const name of readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, name.name);
      if (name.isDirectory()) visit(full);
      else if (name.isFile()) out.push(entry(path.relative(root, full).split(path.sep).join('/'), full));
    }
  };
  visit(root);
  return out;
}

const sources: [string, (root: string) => Fixture][] = [
  ['local files (hash threads)', localFixture],
  ['streamed (as S3), ETags not trusted', (root) => streamedFixture(root, false)],
];

describe.each(sources)('findDuplicates with the %s source', (_name, make) => {
  let root: string;
  let f: Fixture;
  const write = (name: string, content: string | Buffer): void => {
    const p = path.join(root, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  };
  const find = (files: CandidateFile[], cache?: PersistentHashCache) =>
    findDuplicates(files, { source: f.source, threads: 0, cache });
  const groupsOf = (result: Awaited<ReturnType<typeof find>>): string[][] =>
    result.groups.map((g) => f.relative(g.paths));

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'fo-dup-engine-'));
    f = make(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('groups equal content only: same size with other bytes is not a duplicate', async () => {
    write('a/one.txt', 'the same ten');
    write('b/two.txt', 'the same ten');
    write('c/other.txt', 'not the same');
    write('lonely.txt', 'a size nobody else has');
    const result = await find(f.candidates());
    expect(groupsOf(result)).toEqual([['a/one.txt', 'b/two.txt']]);
    expect(result.groups[0].hash).toBe(createHash('sha256').update('the same ten').digest('hex'));
    expect(result.stats.candidates).toBe(3);
    expect(result.errors).toEqual([]);
  });

  it('reads in full only files whose head and tail agree, and never groups a different middle', async () => {
    const base = Buffer.alloc(300 * 1024, 7);
    const middle = Buffer.from(base);
    middle[150 * 1024] = 8;
    const head = Buffer.from(base);
    head[0] = 9;
    write('one.bin', base);
    write('two.bin', base);
    write('middle.bin', middle);
    write('head.bin', head);
    const result = await find(f.candidates());
    expect(groupsOf(result)).toEqual([['one.bin', 'two.bin']]);
    expect(result.stats.partialHashed).toBe(4);
    // head.bin differs in its first block: never read in full.
    expect(result.stats.fullHashed).toBe(3);
  });

  it('leaves empty files out as today: never grouped, never read, counted', async () => {
    write('e1', '');
    write('e2', '');
    write('x', 'x');
    const result = await find(f.candidates());
    expect(result.groups).toEqual([]);
    expect(result.stats.emptyFiles).toBe(2);
    expect(result.stats.candidates).toBe(0);
    expect(f.reads()).toBe(0);
  });

  it('a re-run through the stored cache reads nothing; a changed file (mtime, size) is read again', async () => {
    write('p1', 'abc'.repeat(5000));
    write('p2', 'abc'.repeat(5000));
    write('p3', 'abd'.repeat(5000));
    write('q1', 'q'.repeat(100));
    write('q2', 'q'.repeat(100));
    const etags = { etags: true };
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    const first = await find(f.candidates(etags), cache);
    const firstReads = f.reads();
    expect(firstReads).toBeGreaterThan(0);
    expect(groupsOf(first)).toEqual([
      ['p1', 'p2'],
      ['q1', 'q2'],
    ]);

    let loaded = PersistentHashCache.load(HASH_SCHEME, cache.toBytes());
    const second = await find(f.candidates(etags), loaded);
    expect(f.reads()).toBe(firstReads);
    expect(second.stats.bytesRead).toBe(0);
    expect(second.stats.cacheHits).toBeGreaterThan(0);
    expect(second.groups).toEqual(first.groups);

    // p2 rewritten with other bytes of the same size, and a later mtime: read again, alone.
    write('p2', 'abe'.repeat(5000));
    utimesSync(path.join(root, 'p2'), new Date(), new Date(Date.now() + 5000));
    // q2 grows: its size group is gone, q1 is alone.
    write('q2', 'q'.repeat(101));
    loaded = PersistentHashCache.load(HASH_SCHEME, cache.toBytes());
    const before = f.reads();
    const third = await find(f.candidates(etags), loaded);
    expect(groupsOf(third)).toEqual([]);
    expect(third.stats.partialHashed).toBe(1);
    expect(f.reads() - before).toBe(1);
  });

  it('reports a vanished file and goes on', async () => {
    write('k1', 'dup dup dup');
    write('k2', 'dup dup dup');
    write('gone', 'dup dup dup');
    const files = f.candidates();
    rmSync(path.join(root, 'gone'));
    const result = await find(files);
    expect(groupsOf(result)).toEqual([['k1', 'k2']]);
    expect(result.errors.map((e) => [path.basename(e.path), e.code])).toEqual([['gone', 'ENOENT']]);
  });
});

describe('streamed source with trusted ETags', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'fo-dup-etag-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('trusts only plain MD5 ETags (no "-<parts>" suffix)', () => {
    const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
    expect(trustedEtag(`"${md5}"`)).toBe(md5);
    expect(trustedEtag(md5.toUpperCase())).toBe(md5);
    expect(trustedEtag(`"${md5}-2"`)).toBeNull();
    expect(trustedEtag(`${md5}-12`)).toBeNull();
    expect(trustedEtag('W/"abc"')).toBeNull();
    expect(trustedEtag(undefined)).toBeNull();
  });

  it('settles a size group by ETags: unique ones are not read, one member per set of equal ETags is', async () => {
    for (const [name, content] of [
      ['a', 'same bytes!'],
      ['b', 'same bytes!'],
      ['c', 'same bytes!'],
      ['d', 'other bytes'],
    ])
      writeFileSync(path.join(root, name), content);
    const f = streamedFixture(root, true);
    const result = await findDuplicates(f.candidates({ etags: true }), { source: f.source });
    expect(result.groups.map((g) => g.paths)).toEqual([['a', 'b', 'c']]);
    expect(result.groups[0].hash).toBe(createHash('sha256').update('same bytes!').digest('hex'));
    expect(f.reads()).toBe(1);
    expect(result.stats.etagMatched).toBe(3);
  });

  it('does not trust an ETag with a "-" suffix: equal multipart ETags on other bytes are read and not grouped', async () => {
    writeFileSync(path.join(root, 'x'), 'content one');
    writeFileSync(path.join(root, 'y'), 'content two');
    writeFileSync(path.join(root, 'z'), 'content one');
    const f = streamedFixture(root, true);
    const multipart = '"0123456789abcdef0123456789abcdef-2"';
    const files = f.candidates().map((file) => ({ ...file, etag: multipart }));
    const result = await findDuplicates(files, { source: f.source });
    expect(result.groups.map((g) => g.paths)).toEqual([['x', 'z']]);
    expect(result.stats.etagMatched).toBe(0);
    // Every file read (the partial hash reads these small files whole).
    expect(f.reads()).toBe(3);
  });
});
