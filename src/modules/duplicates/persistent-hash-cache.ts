import type { FileIdentity } from './duplicates.types.js';
import { identitySlot, slotBits } from './identity-slots.js';

/**
 * The one hash cache of duplicate detection: loaded from bytes (a file the service keeps beside
 * the user's folder; HashCacheStore owns reading and writing it), consulted by findDuplicates,
 * which also tells it what a run learned, and written back. Keyed by device, inode, size and
 * modification time (to the sub-millisecond mtimeMs the walk reports), so a file rewritten in
 * place, or replaced by another file, misses. A change that keeps the size and puts the old mtime
 * back (`touch -d`) would not be seen; this is the trade made by every mtime-based cache (git,
 * rsync), and a destructive action (quarantine) re-verifies the content. Stamped with the hash
 * scheme: bytes of another scheme, or not of this format at all, load as an empty cache.
 *
 * Compact and numeric on purpose, since a re-run over a million files looks up a million
 * entries and must cost little more than its walk: the loaded entries stay in typed arrays
 * sorted by inode (~45 bytes an entry and 8–16 of hash index, no object per entry), a lookup answers an
 * entry number, and hashes are read as two u32 words (partial) or copied as 32 bytes (full): no
 * BigInt, hex string or object is made per file. Hashes learned by a run are kept one row per
 * file in typed arrays that grow a segment at a time (no copy of what is there, no doubling) and
 * found by the next load (toBytes() merges both, writing straight into the bytes it returns).
 *
 * Layout (little-endian): "FOHCACHE", u32 version, u32 scheme byte length, the scheme (UTF-8,
 * padded to 8), u32 entries N (ordered by inode, then device), u32 full hashes M, then f64 ino[N], dev[N], size[N], mtimeMs[N],
 * u64 partial[N], i32 fullRef[N] (-1: none), u8 hasPartial[N] (padded to 8), then M x 32 bytes.
 */
const MAGIC = 'FOHCACHE';
const VERSION = 1;
/** Entries kept when writing: new ones first, then loaded ones, up to this many (~90 MB). */
export const MAX_CACHE_ENTRIES = 2_000_000;

const pad8 = (n: number): number => (n + 7) & ~7;

/** Learned rows per segment: the rows grow a segment at a time, never by copying what is there. */
const SEGMENT_SHIFT = 15;
const SEGMENT_ROWS = 1 << SEGMENT_SHIFT;
const SEGMENT_MASK = SEGMENT_ROWS - 1;
const HAS_PARTIAL_ROW = 1;
const HAS_FULL_ROW = 2;

/**
 * The first segment's rows at first; past them it is copied once into a full segment. A small
 * operation learns a few hashes, and a full segment (2.3 MB of typed arrays) per operation was
 * the largest allocation of a worker running many of them, and what most of its collections were
 * for. One step, not a doubling: the smaller copies a doubling leaves behind would be garbage a
 * large search holds on top of its segments until the next collection.
 */
const FIRST_SEGMENT_ROWS = 64;
/** Learned rows up to this many are ordered by a comparison sort, more by the radix sort. */
export const COMPARISON_SORT_ROWS = 256;

/** Up to SEGMENT_ROWS learned rows (`capacity`): a file's identity, its partial and/or full hash (~73 bytes a row). */
class Segment {
  readonly ino: Float64Array;
  readonly dev: Float64Array;
  readonly size: Float64Array;
  readonly mtime: Float64Array;
  /** Two u32 words per row: low, high (the u64 of the file format, little-endian). */
  readonly partial: Uint32Array;
  readonly full: Buffer;
  /** HAS_PARTIAL_ROW | HAS_FULL_ROW. */
  readonly has: Uint8Array;

  constructor(readonly capacity: number) {
    this.ino = new Float64Array(capacity);
    this.dev = new Float64Array(capacity);
    this.size = new Float64Array(capacity);
    this.mtime = new Float64Array(capacity);
    this.partial = new Uint32Array(capacity * 2);
    this.full = Buffer.alloc(capacity * 32);
    this.has = new Uint8Array(capacity);
  }

  /** A segment of `capacity` rows holding this one's. */
  grownTo(capacity: number): Segment {
    const grown = new Segment(capacity);
    grown.ino.set(this.ino);
    grown.dev.set(this.dev);
    grown.size.set(this.size);
    grown.mtime.set(this.mtime);
    grown.partial.set(this.partial);
    grown.full.set(this.full);
    grown.has.set(this.has);
    return grown;
  }
}

/**
 * What a run learned, in rows appended in learning order. A small file's partial and full hash
 * come together and share a row (the same identity as the last row); a large file's full hash
 * comes a batch after its partial one and gets a row of its own: toBytes merges the rows of one
 * file (see mergeOrder).
 */
class LearnedRows {
  readonly segments: Segment[] = [];
  length = 0;

  /** The row to record a hash of `key`'s file in: the last row when it is the same identity, else a new one. */
  rowFor(key: FileIdentity): number {
    let r = this.length - 1;
    if (r >= 0) {
      const s = this.segments[r >>> SEGMENT_SHIFT];
      const i = r & SEGMENT_MASK;
      if (s.ino[i] === key.ino && s.dev[i] === key.dev && s.size[i] === key.size && s.mtime[i] === key.mtimeMs)
        return r;
    }
    r = this.length++;
    const segment = r >>> SEGMENT_SHIFT;
    if (segment === this.segments.length)
      this.segments.push(new Segment(segment === 0 ? FIRST_SEGMENT_ROWS : SEGMENT_ROWS));
    else if ((r & SEGMENT_MASK) === this.segments[segment].capacity)
      this.segments[segment] = this.segments[segment].grownTo(SEGMENT_ROWS);
    const s = this.segments[r >>> SEGMENT_SHIFT];
    const i = r & SEGMENT_MASK;
    s.ino[i] = key.ino;
    s.dev[i] = key.dev;
    s.size[i] = key.size;
    s.mtime[i] = key.mtimeMs;
    return r;
  }

  /**
   * Rows ordered by inode, then device, then learning order: an LSD radix sort (16-bit digits of
   * the numbers' order-preserving bit patterns, skipping digits every row shares), so a million
   * rows sort in a few passes over typed arrays instead of a million comparator calls.
   */
  sorted(): Uint32Array {
    const n = this.length;
    if (n <= COMPARISON_SORT_ROWS) {
      // A few rows (a small operation's): comparisons, without the radix sort's 256 KiB of counts.
      const at = (r: number, column: 'ino' | 'dev'): number =>
        this.segments[r >>> SEGMENT_SHIFT][column][r & SEGMENT_MASK];
      const rows = Array.from({ length: n }, (_, r) => r);
      rows.sort((a, b) => at(a, 'ino') - at(b, 'ino') || at(a, 'dev') - at(b, 'dev') || a - b);
      return Uint32Array.from(rows);
    }
    let order = new Uint32Array(n);
    for (let r = 0; r < n; r++) order[r] = r;
    let spare = new Uint32Array(n);
    const bits = new Uint32Array(n * 2);
    const counts = new Uint32Array(65537);
    // Least significant key first: device, then inode (a stable sort keeps the device order within an inode).
    for (const column of ['dev', 'ino'] as const) {
      for (let r = 0; r < n; r++)
        sortableBits(this.segments[r >>> SEGMENT_SHIFT][column][r & SEGMENT_MASK], bits, r * 2);
      for (let digit = 0; digit < 4; digit++) {
        const word = digit >> 1;
        const shift = (digit & 1) * 16;
        counts.fill(0);
        for (let r = 0; r < n; r++) counts[((bits[r * 2 + word] >>> shift) & 0xffff) + 1]++;
        if (n === 0 || counts[((bits[word] >>> shift) & 0xffff) + 1] === n) continue;
        for (let d = 1; d <= 65536; d++) counts[d] += counts[d - 1];
        for (let k = 0; k < n; k++) {
          const r = order[k];
          spare[counts[(bits[r * 2 + word] >>> shift) & 0xffff]++] = r;
        }
        [order, spare] = [spare, order];
      }
    }
    return order;
  }
}

const bitsView = new Float64Array(1);
const bitsWords = new Uint32Array(bitsView.buffer);

/** Writes `value`'s bits as two u32 words (low, high) whose unsigned order is the numbers' order. */
function sortableBits(value: number, out: Uint32Array, at: number): void {
  bitsView[0] = value === 0 ? 0 : value; // -0 sorts as 0
  const low = bitsWords[0];
  const high = bitsWords[1];
  if (high & 0x80000000) {
    out[at] = ~low >>> 0;
    out[at + 1] = ~high >>> 0;
  } else {
    out[at] = low;
    out[at + 1] = (high | 0x80000000) >>> 0;
  }
}

interface Loaded {
  n: number;
  ino: Float64Array;
  dev: Float64Array;
  size: Float64Array;
  mtime: Float64Array;
  /** Two u32 words per entry (low, high). */
  partial: Uint32Array;
  fullRef: Int32Array;
  hasPartial: Uint8Array;
  full: Buffer;
}

export class PersistentHashCache {
  private readonly loaded: Loaded | undefined;
  /** The loaded entries by (ino, dev), built by the first find(). */
  private index: EntryIndex | undefined;
  private readonly rows = new LearnedRows();
  private learnedHashes = 0;

  private constructor(
    private readonly scheme: string,
    loaded?: Loaded,
  ) {
    this.loaded = loaded;
  }

  /** An empty cache for `scheme`. */
  static empty(scheme: string): PersistentHashCache {
    return new PersistentHashCache(scheme);
  }

  /** The cache in `data` (as written by toBytes), or an empty one when `data` is missing, damaged or of another scheme. */
  static load(scheme: string, data: Uint8Array | null): PersistentHashCache {
    if (!data) return PersistentHashCache.empty(scheme);
    try {
      return new PersistentHashCache(scheme, decode(scheme, data));
    } catch {
      return PersistentHashCache.empty(scheme);
    }
  }

  /** Entries loaded. */
  get loadedEntries(): number {
    return this.loaded?.n ?? 0;
  }

  /** Hashes learned since loading. */
  get learned(): number {
    return this.learnedHashes;
  }

  /**
   * The loaded entry of this file as the walk saw it (same device, inode, size and mtime), or -1.
   * Numbers in, a number out: this runs once per candidate on every re-run.
   */
  find(dev: number, ino: number, size: number, mtimeMs: number): number {
    const l = this.loaded;
    if (!l) return -1;
    const index = this.index ?? (this.index = buildIndex(l));
    const mask = index.slots.length - 1;
    for (let slot = identitySlot(ino, dev, index.bits); ; slot = (slot + 1) & mask) {
      const held = index.slots[slot];
      if (held === 0) return -1;
      const i = held - 1;
      if (l.ino[i] !== ino || l.dev[i] !== dev) continue;
      return l.size[i] === size && l.mtime[i] === mtimeMs ? i : -1;
    }
  }

  /** Copies entry `entry`'s partial hash (low, high words) to `target` at `at`; false when it has none. */
  copyPartial(entry: number, target: Uint32Array, at: number): boolean {
    const l = this.loaded!;
    if (!l.hasPartial[entry]) return false;
    target[at] = l.partial[entry * 2];
    target[at + 1] = l.partial[entry * 2 + 1];
    return true;
  }

  /** Copies entry `entry`'s full hash (32 bytes) to `target` at byte `at`; false when it has none. */
  copyFull(entry: number, target: Uint8Array, at: number): boolean {
    const l = this.loaded!;
    const ref = l.fullRef[entry];
    if (ref < 0) return false;
    // A byte loop rather than subarray() + set(): no view object per lookup.
    const full = l.full;
    for (let k = 0, from = ref * 32; k < 32; k++) target[at + k] = full[from + k];
    return true;
  }

  /** Records the partial hash (two u32 words) of a file as the walk saw it. */
  learnPartial(key: FileIdentity, low: number, high: number): void {
    const r = this.rows.rowFor(key);
    const s = this.rows.segments[r >>> SEGMENT_SHIFT];
    const i = r & SEGMENT_MASK;
    s.partial[i * 2] = low;
    s.partial[i * 2 + 1] = high;
    s.has[i] |= HAS_PARTIAL_ROW;
    this.learnedHashes++;
  }

  /** Records the full hash (32 bytes of `source` from byte `at`) of a file as the walk saw it. */
  learnFull(key: FileIdentity, source: Uint8Array, at: number): void {
    const r = this.rows.rowFor(key);
    const s = this.rows.segments[r >>> SEGMENT_SHIFT];
    const i = r & SEGMENT_MASK;
    const full = s.full;
    for (let k = 0; k < 32; k++) full[i * 32 + k] = source[at + k];
    s.has[i] |= HAS_FULL_ROW;
    this.learnedHashes++;
  }

  /**
   * The bytes to store: every hash learned, and the loaded entries they do not replace, up to
   * `maxEntries` (learned ones first). An entry learned for a file replaces a loaded one of the
   * same device and inode (the file changed, or its hashes were completed).
   *
   * Written straight into the result: the learned rows sorted (an index per row), then merged
   * with the loaded entries (already in order) three times over, to count, to choose what the
   * limit keeps, and to write; no merged copy of the entries is made.
   */
  toBytes(maxEntries = MAX_CACHE_ENTRIES): Buffer {
    const l = this.loaded;
    const segments = this.rows.segments;
    const order = this.rows.sorted();
    const L = order.length;
    const N = l?.n ?? 0;
    const seg = (r: number): Segment => segments[r >>> SEGMENT_SHIFT];

    /**
     * Calls `visit` for each entry of the merged cache, in (inode, device) order. For a file with
     * learned rows: `id` its last row (the identity the entry is valid for), `partialRow` and
     * `fullRow` the last rows of that identity with each hash (or -1), `entry` the loaded entry
     * of that identity that fills in what was not learned (or -1); a loaded entry of another
     * identity is dropped (the file changed). For a file with none: id -1 and its loaded entry.
     */
    const merge = (visit: (id: number, partialRow: number, fullRow: number, entry: number) => void): void => {
      let a = 0;
      let b = 0;
      while (a < L || b < N) {
        let ino = 0;
        let dev = 0;
        if (a < L) {
          const r = order[a];
          ino = seg(r).ino[r & SEGMENT_MASK];
          dev = seg(r).dev[r & SEGMENT_MASK];
        }
        if (a >= L || (b < N && (l!.ino[b] < ino || (l!.ino[b] === ino && l!.dev[b] < dev)))) {
          const entry = b++;
          if (l!.hasPartial[entry] || l!.fullRef[entry] >= 0) visit(-1, -1, -1, entry);
          continue;
        }
        let end = a + 1;
        while (end < L && seg(order[end]).ino[order[end] & SEGMENT_MASK] === ino) {
          if (seg(order[end]).dev[order[end] & SEGMENT_MASK] !== dev) break;
          end++;
        }
        const id = order[end - 1];
        const size = seg(id).size[id & SEGMENT_MASK];
        const mtime = seg(id).mtime[id & SEGMENT_MASK];
        let partialRow = -1;
        let fullRow = -1;
        for (let k = end - 1; k >= a; k--) {
          const s = seg(order[k]);
          const i = order[k] & SEGMENT_MASK;
          if (s.size[i] !== size || s.mtime[i] !== mtime) continue;
          if (partialRow < 0 && s.has[i] & HAS_PARTIAL_ROW) partialRow = order[k];
          if (fullRow < 0 && s.has[i] & HAS_FULL_ROW) fullRow = order[k];
        }
        a = end;
        let entry = -1;
        for (; b < N && l!.ino[b] === ino && l!.dev[b] === dev; b++) {
          if (entry < 0 && l!.size[b] === size && l!.mtime[b] === mtime) entry = b;
        }
        visit(id, partialRow, fullRow, entry);
      }
    };

    // Over the limit: learned entries first, then loaded ones, in inode order.
    let learnedCount = 0;
    let loadedCount = 0;
    let fullCount = 0;
    const hasFull = (fullRow: number, entry: number): boolean => fullRow >= 0 || (entry >= 0 && l!.fullRef[entry] >= 0);
    merge((id, partialRow, fullRow, entry) => {
      if (id >= 0) learnedCount++;
      else loadedCount++;
      if (hasFull(fullRow, entry)) fullCount++;
    });
    const learnedRoom = Math.min(maxEntries, learnedCount);
    const loadedRoom = Math.min(loadedCount, Math.max(0, maxEntries - learnedCount));
    /** Whether the limit keeps the next entry (called once per entry, in merge order). */
    let learnedLeft = 0;
    let loadedLeft = 0;
    const keeps = (id: number): boolean => (id >= 0 ? learnedLeft-- > 0 : loadedLeft-- > 0);
    if (learnedRoom + loadedRoom < learnedCount + loadedCount) {
      fullCount = 0;
      learnedLeft = learnedRoom;
      loadedLeft = loadedRoom;
      merge((id, partialRow, fullRow, entry) => {
        if (keeps(id) && hasFull(fullRow, entry)) fullCount++;
      });
    }

    const head = headerLength(this.scheme);
    const n = learnedRoom + loadedRoom;
    const body = n * 8 * 5 + n * 4 + pad8(n);
    const buffer = Buffer.alloc(head + body + fullCount * 32);
    buffer.write(MAGIC, 0, 'latin1');
    buffer.writeUInt32LE(VERSION, 8);
    buffer.writeUInt32LE(Buffer.byteLength(this.scheme), 12);
    buffer.write(this.scheme, 16, 'utf8');
    buffer.writeUInt32LE(n, head - 8);
    buffer.writeUInt32LE(fullCount, head - 4);
    const at = buffer.byteOffset;
    const oIno = new Float64Array(buffer.buffer, at + head, n);
    const oDev = new Float64Array(buffer.buffer, at + head + n * 8, n);
    const oSize = new Float64Array(buffer.buffer, at + head + n * 16, n);
    const oMtime = new Float64Array(buffer.buffer, at + head + n * 24, n);
    const oPartial = new Uint32Array(buffer.buffer, at + head + n * 32, n * 2);
    const oFullRef = new Int32Array(buffer.buffer, at + head + n * 40, n);
    const oHasPartial = new Uint8Array(buffer.buffer, at + head + n * 44, n);
    const fullStart = head + body;
    let o = 0;
    let refs = 0;
    learnedLeft = learnedRoom;
    loadedLeft = loadedRoom;
    merge((id, partialRow, fullRow, entry) => {
      if (!keeps(id)) return;
      if (id >= 0) {
        const s = seg(id);
        const i = id & SEGMENT_MASK;
        oIno[o] = s.ino[i];
        oDev[o] = s.dev[i];
        oSize[o] = s.size[i];
        oMtime[o] = s.mtime[i];
      } else {
        oIno[o] = l!.ino[entry];
        oDev[o] = l!.dev[entry];
        oSize[o] = l!.size[entry];
        oMtime[o] = l!.mtime[entry];
      }
      if (partialRow >= 0) {
        const i = partialRow & SEGMENT_MASK;
        oPartial[o * 2] = seg(partialRow).partial[i * 2];
        oPartial[o * 2 + 1] = seg(partialRow).partial[i * 2 + 1];
        oHasPartial[o] = 1;
      } else if (entry >= 0 && l!.hasPartial[entry]) {
        oPartial[o * 2] = l!.partial[entry * 2];
        oPartial[o * 2 + 1] = l!.partial[entry * 2 + 1];
        oHasPartial[o] = 1;
      }
      oFullRef[o] = -1;
      if (fullRow >= 0) {
        copy32(seg(fullRow).full, (fullRow & SEGMENT_MASK) * 32, buffer, fullStart + refs * 32);
        oFullRef[o] = refs++;
      } else if (entry >= 0 && l!.fullRef[entry] >= 0) {
        copy32(l!.full, l!.fullRef[entry] * 32, buffer, fullStart + refs * 32);
        oFullRef[o] = refs++;
      }
      o++;
    });
    return buffer;
  }
}

/**
 * An open-addressing table of the loaded entries by (ino, dev): a lookup reads one or two slots
 * where a binary search over the sorted inodes read ~17 entries (the 100,000-file re-run spent a
 * fifth of its detection there). Built once per load, at 8–16 bytes an entry.
 */
interface EntryIndex {
  bits: number;
  /** Slot -> 1 + entry (0: free). */
  slots: Int32Array;
}

function buildIndex(l: Loaded): EntryIndex {
  const bits = slotBits(l.n);
  const slots = new Int32Array(1 << bits);
  const mask = slots.length - 1;
  for (let i = 0; i < l.n; i++) {
    // Entries are unique by (ino, dev) (decode checks the order), so a free slot is all we look for.
    let slot = identitySlot(l.ino[i], l.dev[i], bits);
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = i + 1;
  }
  return { bits, slots };
}

/** 32 bytes from `source` at `from` to `target` at `to`: a loop, cheaper than a copy() call per hash. */
function copy32(source: Uint8Array, from: number, target: Uint8Array, to: number): void {
  for (let k = 0; k < 32; k++) target[to + k] = source[from + k];
}

function headerLength(scheme: string): number {
  return pad8(8 + 4 + 4 + Buffer.byteLength(scheme)) + 8;
}

function decode(scheme: string, data: Uint8Array): Loaded {
  // Typed arrays need aligned offsets: work on an aligned copy when the bytes are not.
  const bytes =
    data.byteOffset % 8 === 0 ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : Buffer.from(Uint8Array.prototype.slice.call(bytes));
  if (aligned.toString('latin1', 0, 8) !== MAGIC || aligned.readUInt32LE(8) !== VERSION) throw new Error('not a cache');
  const schemeLength = aligned.readUInt32LE(12);
  if (aligned.toString('utf8', 16, 16 + schemeLength) !== scheme) throw new Error('another scheme');
  const head = headerLength(scheme);
  const n = aligned.readUInt32LE(head - 8);
  const m = aligned.readUInt32LE(head - 4);
  const body = n * 8 * 5 + n * 4 + pad8(n);
  if (aligned.length !== head + body + m * 32) throw new Error('truncated');
  const at = aligned.byteOffset;
  const buf = aligned.buffer;
  const loaded: Loaded = {
    n,
    ino: new Float64Array(buf, at + head, n),
    dev: new Float64Array(buf, at + head + n * 8, n),
    size: new Float64Array(buf, at + head + n * 16, n),
    mtime: new Float64Array(buf, at + head + n * 24, n),
    partial: new Uint32Array(buf, at + head + n * 32, n * 2),
    fullRef: new Int32Array(buf, at + head + n * 40, n),
    hasPartial: new Uint8Array(buf, at + head + n * 44, n),
    full: aligned.subarray(head + body),
  };
  for (let i = 1; i < n; i++) {
    const ino = loaded.ino[i];
    const before = loaded.ino[i - 1];
    if (ino < before || (ino === before && loaded.dev[i] <= loaded.dev[i - 1])) throw new Error('not sorted');
  }
  for (let i = 0; i < n; i++) if (loaded.fullRef[i] >= m) throw new Error('bad reference');
  return loaded;
}
