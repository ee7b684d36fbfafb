import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FAILED,
  FileHasher,
  HAS_FULL,
  HAS_PARTIAL,
  PARTIAL_BLOCK,
  READ_AHEAD_FILES,
  TAIL_MIN_SIZE,
  type HashBatch,
} from './file-hasher.js';
import { loadReadAhead, type ReadAhead } from '../../common/read-ahead.js';

/**
 * The hasher's read-ahead (read-ahead.ts): files are opened and advised ahead of their reads, the
 * answers do not change, and no descriptor outlives its batch, however the batch ends.
 */
interface Advice {
  fd: number;
  offset: number;
  length: number;
  path: string;
}

let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'fo-hasher-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Writes `groups` (each: a size and the contents' seeds) and packs them as one batch, in group order. */
function makeBatch(groups: Array<{ size: number; seeds: number[] }>): { batch: HashBatch; paths: string[] } {
  const paths: string[] = [];
  const meta: number[] = [];
  for (const [g, group] of groups.entries()) {
    for (const [i, seed] of group.seeds.entries()) {
      const file = path.join(root, `g${g}-${i}.bin`);
      // Same seed, same bytes; the last byte and the middle depend on the seed too, so that
      // partial and full hashes both have something to tell apart.
      const bytes = Buffer.alloc(group.size, seed % 251);
      if (group.size > 0) bytes[group.size - 1] = seed % 7;
      if (group.size > 2) bytes[group.size >> 1] = seed % 13;
      writeFileSync(file, bytes);
      const st = lstatSync(file);
      paths.push(file);
      meta.push(st.dev, st.ino, st.mtimeMs);
    }
  }
  return {
    paths,
    batch: {
      id: 1,
      paths: paths.join('\0'),
      meta: Float64Array.from(meta),
      groupSize: Float64Array.from(groups.map((g) => g.size)),
      groupCount: Uint32Array.from(groups.map((g) => g.seeds.length)),
    },
  };
}

/** A read-ahead that does what the real one does (when there is one) and records each advice with the path it was for. */
function recordingReadAhead(): { readAhead: ReadAhead; advice: Advice[] } {
  const real = loadReadAhead();
  const advice: Advice[] = [];
  return {
    advice,
    readAhead: (fd, offset, length) => {
      advice.push({ fd, offset, length, path: readlinkFd(fd) });
      real?.(fd, offset, length);
    },
  };
}

function readlinkFd(fd: number): string {
  return execFileSync('readlink', [`/proc/${process.pid}/fd/${fd}`])
    .toString()
    .trim();
}

const GROUPS = [
  { size: 100, seeds: [1, 1, 2] },
  { size: PARTIAL_BLOCK, seeds: [3, 3] },
  { size: 10_000, seeds: [4, 4, 5, 4] },
  { size: TAIL_MIN_SIZE + 5, seeds: [6, 6, 7] },
  ...Array.from({ length: 20 }, (_, g) => ({ size: 200 + g, seeds: [g, g, g + 1] })),
];

describe('FileHasher read-ahead', () => {
  it('is available on this machine (Linux with glibc), so the tests below exercise the real call', () => {
    expect(loadReadAhead()).not.toBeNull();
  });

  it('gives the same hashes with and without read-ahead', () => {
    const { batch } = makeBatch(GROUPS);
    const plain = new FileHasher(null).hashBatch(batch);
    const ahead = new FileHasher(loadReadAhead()).hashBatch(batch);
    expect(ahead.errorIndex).toEqual([]);
    expect(Buffer.from(ahead.state)).toEqual(Buffer.from(plain.state));
    expect(Buffer.from(ahead.partial.buffer)).toEqual(Buffer.from(plain.partial.buffer));
    expect(Buffer.from(ahead.full)).toEqual(Buffer.from(plain.full));
    expect(ahead.bytesRead).toBe(plain.bytesRead);
    // Every group has a pair of equal files: the full hashes were computed, not only partial ones.
    expect(plain.fullHashed).toBeGreaterThan(GROUPS.length * 2 - 1);
  });

  it('advises the head (and the tail from TAIL_MIN_SIZE) of each file ahead once, across size groups, and the full reads ahead', () => {
    const { batch, paths } = makeBatch(GROUPS);
    const { readAhead, advice } = recordingReadAhead();
    const result = new FileHasher(readAhead).hashBatch(batch);
    expect(result.errorIndex).toEqual([]);

    const partialAdvice = advice.filter((a) => a.offset > 0 || a.length <= PARTIAL_BLOCK);
    // Every file but the first is advised for its partial hash (the first is read at once).
    const advisedHeads = new Set(partialAdvice.filter((a) => a.offset === 0).map((a) => a.path));
    expect([...advisedHeads].sort()).toEqual(paths.slice(1).sort());
    expect(partialAdvice.filter((a) => a.offset === 0)).toHaveLength(paths.length - 1);
    // Head lengths: the file's size up to one block; the tail block of the big group's files.
    const bigFiles = paths.filter((_, k) => k >= 9 && k < 12);
    for (const a of partialAdvice) {
      const size = lstatSync(a.path).size;
      if (a.offset === 0) expect(a.length).toBe(Math.min(size, PARTIAL_BLOCK));
      else expect([a.offset, a.length, bigFiles.includes(a.path)]).toEqual([size - PARTIAL_BLOCK, PARTIAL_BLOCK, true]);
    }
    // Full hashes of files over one block (the 10,000-byte and big groups' equal members) are
    // advised too, from the start of the file, apart from the first of each set read.
    const fullAdvice = advice.filter((a) => a.offset === 0 && a.length > PARTIAL_BLOCK);
    expect(fullAdvice.map((a) => path.basename(a.path)).sort()).toEqual(['g2-1.bin', 'g2-3.bin', 'g3-1.bin']);
  });

  it('holds at most READ_AHEAD_FILES files open ahead of the one it reads', () => {
    const many = [{ size: 50, seeds: Array.from({ length: READ_AHEAD_FILES * 3 }, (_, i) => i) }];
    const { batch, paths } = makeBatch(many);
    const open: number[] = [];
    const before = openDescriptors();
    let read = 0;
    // Counted as each advice is given: the files advised so far and not yet read, this one included.
    const hasher = new FileHasher(() => {
      open.push(openDescriptors() - before);
    });
    hasher.hashBatch(batch, () => {
      read++;
      return false;
    });
    expect(open.length).toBe(paths.length - 1);
    // The files ahead, plus the one about to be read (advised earlier, opened, not yet read).
    expect(Math.max(...open)).toBe(READ_AHEAD_FILES + 1);
    expect(read).toBe(paths.length);
  });

  it('leaves no descriptor open when a batch is stopped, or its files vanished, changed or were swapped', () => {
    const before = openDescriptors();
    const { batch, paths } = makeBatch(GROUPS);
    const { readAhead } = recordingReadAhead();
    const hasher = new FileHasher(readAhead);

    let checks = 0;
    const stopped = hasher.hashBatch(batch, () => ++checks > 5);
    expect(stopped.stopped).toBe(true);
    expect(openDescriptors()).toBe(before);

    // A vanished file, a file rewritten with other bytes (size and mtime change), one swapped for
    // a symbolic link, and a FIFO where a file was: each fails alone, and the batch goes on.
    unlinkSync(paths[1]);
    writeFileSync(paths[5], 'other content');
    unlinkSync(paths[7]);
    symlinkSync(paths[8], paths[7]);
    unlinkSync(paths[13]);
    execFileSync('mkfifo', [paths[13]]);
    const result = hasher.hashBatch(batch);
    expect(result.stopped).toBe(false);
    expect(result.errorIndex).toEqual([1, 5, 7, 13]);
    expect(result.errorCode).toEqual(['ENOENT', 'CHANGED', 'ELOOP', 'CHANGED']);
    for (const k of result.errorIndex) expect(result.state[k]).toBe(FAILED);
    // The files around them were hashed.
    expect(result.state[0] & HAS_PARTIAL).toBeTruthy();
    expect(result.state[8] & HAS_FULL).toBeTruthy();
    expect(openDescriptors()).toBe(before);
  });

  it('advises nothing for files whose partial hash the batch already knows', () => {
    const { batch } = makeBatch(GROUPS);
    const first = new FileHasher(null).hashBatch(batch);
    const known = Uint8Array.from(first.state, (bits) => bits & HAS_PARTIAL);
    const { readAhead, advice } = recordingReadAhead();
    const again = new FileHasher(readAhead).hashBatch({ ...batch, known, knownPartial: first.partial });
    expect(again.partialHashed).toBe(0);
    // Only full hashes are read (no tail advice), and each set of equal files is advised after its
    // first member: one per set in 21 groups of one set of 2, 2 in the [4, 4, 5, 4] group, 2 + 1 + 1 + 20 + 1.
    expect(again.fullHashed).toBe(first.fullHashed);
    expect(advice.every((a) => a.offset === 0)).toBe(true);
    expect(advice).toHaveLength(25);
    expect(Buffer.from(again.full)).toEqual(Buffer.from(first.full));
  });
});
