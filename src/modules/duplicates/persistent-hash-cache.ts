import type { FileIdentity } from './duplicates.types.js';

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
 * sorted by inode (binary search, ~45 bytes an entry, no object per entry), a lookup answers an
 * entry number, and hashes are read as two u32 words (partial) or copied as 32 bytes (full): no
 * BigInt, hex string or object is made per file. Hashes learned by a run are appended to growable
 * typed arrays and found by the next load (toBytes() merges both).
 *
 * Layout (little-endian): "FOHCACHE", u32 version, u32 scheme byte length, the scheme (UTF-8,
 * padded to 8), u32 entries N, u32 full hashes M, then f64 ino[N], dev[N], size[N], mtimeMs[N],
 * u64 partial[N], i32 fullRef[N] (-1: none), u8 hasPartial[N] (padded to 8), then M x 32 bytes.
 */
const MAGIC = 'FOHCACHE';
const VERSION = 1;
/** Entries kept when writing: new ones first, then loaded ones, up to this many (~90 MB). */
export const MAX_CACHE_ENTRIES = 2_000_000;

const pad8 = (n: number): number => (n + 7) & ~7;

class Column {
  ino: Float64Array;
  dev: Float64Array;
  size: Float64Array;
  mtime: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.ino = new Float64Array(capacity);
    this.dev = new Float64Array(capacity);
    this.size = new Float64Array(capacity);
    this.mtime = new Float64Array(capacity);
  }
  protected grow(): void {
    const grow = (a: Float64Array): Float64Array => {
      const b = new Float64Array(Math.max(1024, a.length * 2));
      b.set(a);
      return b;
    };
    this.ino = grow(this.ino);
    this.dev = grow(this.dev);
    this.size = grow(this.size);
    this.mtime = grow(this.mtime);
  }
  pushKey(key: FileIdentity): number {
    if (this.length === this.ino.length) this.grow();
    const i = this.length++;
    this.ino[i] = key.ino;
    this.dev[i] = key.dev;
    this.size[i] = key.size;
    this.mtime[i] = key.mtimeMs;
    return i;
  }
}

class PartialColumn extends Column {
  /** Two u32 words per entry: low, high (the u64 of the file format, little-endian). */
  partial: Uint32Array;
  constructor(capacity: number) {
    super(capacity);
    this.partial = new Uint32Array(capacity * 2);
  }
  protected override grow(): void {
    super.grow();
    const b = new Uint32Array(this.ino.length * 2);
    b.set(this.partial);
    this.partial = b;
  }
}

class FullColumn extends Column {
  full: Buffer;
  constructor(capacity: number) {
    super(capacity);
    this.full = Buffer.alloc(capacity * 32);
  }
  protected override grow(): void {
    super.grow();
    const b = Buffer.alloc(this.ino.length * 32);
    this.full.copy(b);
    this.full = b;
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
  private readonly partials = new PartialColumn(1024);
  private readonly fulls = new FullColumn(256);

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
    return this.partials.length + this.fulls.length;
  }

  /**
   * The loaded entry of this file as the walk saw it (same device, inode, size and mtime), or -1.
   * Numbers in, a number out: this runs once per candidate on every re-run.
   */
  find(dev: number, ino: number, size: number, mtimeMs: number): number {
    const l = this.loaded;
    if (!l) return -1;
    // The first entry with this inode, then the ones after it.
    let lo = 0;
    let hi = l.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (l.ino[mid] < ino) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < l.n && l.ino[i] === ino; i++) {
      if (l.dev[i] !== dev) continue;
      return l.size[i] === size && l.mtime[i] === mtimeMs ? i : -1;
    }
    return -1;
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
    const i = this.partials.pushKey(key);
    this.partials.partial[i * 2] = low;
    this.partials.partial[i * 2 + 1] = high;
  }

  /** Records the full hash (32 bytes of `source` from byte `at`) of a file as the walk saw it. */
  learnFull(key: FileIdentity, source: Uint8Array, at: number): void {
    const i = this.fulls.pushKey(key);
    const full = this.fulls.full;
    for (let k = 0; k < 32; k++) full[i * 32 + k] = source[at + k];
  }

  /**
   * The bytes to store: every hash learned, and the loaded entries they do not replace, up to
   * `maxEntries` (learned ones first). An entry learned for a file replaces a loaded one of the
   * same device and inode (the file changed, or its hashes were completed).
   */
  toBytes(maxEntries = MAX_CACHE_ENTRIES): Buffer {
    const l = this.loaded;
    const p = this.partials;
    const f = this.fulls;
    // Rows: learned partials [0, P), learned fulls [P, P + F), loaded [P + F, P + F + N).
    const P = p.length;
    const F = f.length;
    const N = l?.n ?? 0;
    const total = P + F + N;
    const ino = (r: number): number => (r < P ? p.ino[r] : r < P + F ? f.ino[r - P] : l!.ino[r - P - F]);
    const dev = (r: number): number => (r < P ? p.dev[r] : r < P + F ? f.dev[r - P] : l!.dev[r - P - F]);
    const order = new Uint32Array(total);
    for (let r = 0; r < total; r++) order[r] = r;
    // By inode, device, then learned before loaded (a learned row wins).
    order.sort((a, b) => ino(a) - ino(b) || dev(a) - dev(b) || (a < P + F ? 0 : 1) - (b < P + F ? 0 : 1) || a - b);

    // One merged entry per file, in typed arrays (no object per entry).
    const m = {
      ino: new Float64Array(total),
      dev: new Float64Array(total),
      size: new Float64Array(total),
      mtime: new Float64Array(total),
      partial: new Uint32Array(total * 2),
      hasPartial: new Uint8Array(total),
      /** Where the full hash is: 0 none, 1 learned (index into fulls), 2 loaded (fullRef). */
      fullFrom: new Uint8Array(total),
      fullIndex: new Int32Array(total),
      learned: new Uint8Array(total),
    };
    let count = 0;
    let k = 0;
    while (k < total) {
      const first = order[k];
      const i0 = ino(first);
      const d0 = dev(first);
      // The rows of one file; the first row gives the identity the entry is valid for.
      let size: number;
      let mtime: number;
      if (first < P) [size, mtime] = [p.size[first], p.mtime[first]];
      else if (first < P + F) [size, mtime] = [f.size[first - P], f.mtime[first - P]];
      else [size, mtime] = [l!.size[first - P - F], l!.mtime[first - P - F]];
      const e = count;
      m.fullFrom[e] = 0;
      m.hasPartial[e] = 0;
      for (; k < total && ino(order[k]) === i0 && dev(order[k]) === d0; k++) {
        const r = order[k];
        if (r < P) {
          if (p.size[r] === size && p.mtime[r] === mtime) {
            m.partial[e * 2] = p.partial[r * 2];
            m.partial[e * 2 + 1] = p.partial[r * 2 + 1];
            m.hasPartial[e] = 1;
          }
        } else if (r < P + F) {
          const j = r - P;
          if (f.size[j] === size && f.mtime[j] === mtime) {
            m.fullFrom[e] = 1;
            m.fullIndex[e] = j;
          }
        } else {
          const j = r - P - F;
          if (l!.size[j] !== size || l!.mtime[j] !== mtime) continue;
          if (!m.hasPartial[e] && l!.hasPartial[j]) {
            m.partial[e * 2] = l!.partial[j * 2];
            m.partial[e * 2 + 1] = l!.partial[j * 2 + 1];
            m.hasPartial[e] = 1;
          }
          if (m.fullFrom[e] === 0 && l!.fullRef[j] >= 0) {
            m.fullFrom[e] = 2;
            m.fullIndex[e] = l!.fullRef[j];
          }
        }
      }
      if (!m.hasPartial[e] && m.fullFrom[e] === 0) continue;
      m.ino[e] = i0;
      m.dev[e] = d0;
      m.size[e] = size;
      m.mtime[e] = mtime;
      m.learned[e] = first < P + F ? 1 : 0;
      count++;
    }

    // Over the limit: learned entries first, then loaded ones, in inode order.
    const keep = new Uint8Array(count).fill(1);
    let kept = count;
    if (count > maxEntries) {
      let learnedCount = 0;
      for (let e = 0; e < count; e++) learnedCount += m.learned[e];
      let loadedRoom = Math.max(0, maxEntries - learnedCount);
      let learnedRoom = Math.min(maxEntries, learnedCount);
      kept = 0;
      for (let e = 0; e < count; e++) {
        const room = m.learned[e] ? learnedRoom-- : loadedRoom--;
        keep[e] = room > 0 ? 1 : 0;
        kept += keep[e];
      }
    }
    let fullCount = 0;
    for (let e = 0; e < count; e++) if (keep[e] && m.fullFrom[e] !== 0) fullCount++;

    const head = headerLength(this.scheme);
    const n = kept;
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
    for (let e = 0; e < count; e++) {
      if (!keep[e]) continue;
      oIno[o] = m.ino[e];
      oDev[o] = m.dev[e];
      oSize[o] = m.size[e];
      oMtime[o] = m.mtime[e];
      oPartial[o * 2] = m.partial[e * 2];
      oPartial[o * 2 + 1] = m.partial[e * 2 + 1];
      oHasPartial[o] = m.hasPartial[e];
      if (m.fullFrom[e] === 0) oFullRef[o] = -1;
      else {
        const source = m.fullFrom[e] === 1 ? f.full : l!.full;
        source.copy(buffer, fullStart + refs * 32, m.fullIndex[e] * 32, m.fullIndex[e] * 32 + 32);
        oFullRef[o] = refs++;
      }
      o++;
    }
    return buffer;
  }
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
  for (let i = 1; i < n; i++) if (loaded.ino[i] < loaded.ino[i - 1]) throw new Error('not sorted');
  for (let i = 0; i < n; i++) if (loaded.fullRef[i] >= m) throw new Error('bad reference');
  return loaded;
}
