import { eventLoopSliceDue, yieldEventLoop } from '../../common/event-loop-slice.js';

/** The side of the greyscale square a pHash is computed from. */
export const PHASH_INPUT_SIDE = 32;
/** The side of the low-frequency block of DCT coefficients the hash keeps (8 x 8 = 64 bits). */
const PHASH_BLOCK = 8;

/** cos((2x + 1) u pi / 2N) for u < 8, x < 32: the DCT-II basis the hash needs, computed once. */
const COSINES: Float64Array[] = Array.from({ length: PHASH_BLOCK }, (_, u) =>
  Float64Array.from({ length: PHASH_INPUT_SIDE }, (_, x) =>
    Math.cos(((2 * x + 1) * u * Math.PI) / (2 * PHASH_INPUT_SIDE)),
  ),
);

/** A 64-bit perceptual hash as two unsigned 32-bit halves (bit operations on numbers, no BigInt). */
export interface PerceptualHash {
  hi: number;
  lo: number;
}

/**
 * The DCT pHash of a 32 x 32 greyscale image (`pixels`: 1024 bytes, row by row): the 2-D DCT's
 * top-left 8 x 8 block (the lowest frequencies), each coefficient compared with the median of the
 * block's 63 AC coefficients. The DC coefficient (the mean brightness) is left out of the median
 * and its bit is always 0: it says nothing about the picture's structure, and its size would
 * otherwise decide the median. Only the 8 x 8 block is computed (separably: about 10,000
 * multiplications), cheap enough for the main thread.
 */
export function perceptualHash(pixels: Uint8Array): PerceptualHash {
  const side = PHASH_INPUT_SIDE;
  if (pixels.length !== side * side) throw new Error(`pHash input must be ${side}x${side} greyscale`);
  // Rows first: rowCoefficients[y * 8 + u] = sum_x p(x, y) cos_u(x).
  const rowCoefficients = new Float64Array(side * PHASH_BLOCK);
  for (let y = 0; y < side; y += 1) {
    for (let u = 0; u < PHASH_BLOCK; u += 1) {
      const basis = COSINES[u];
      let sum = 0;
      for (let x = 0; x < side; x += 1) sum += pixels[y * side + x] * basis[x];
      rowCoefficients[y * PHASH_BLOCK + u] = sum;
    }
  }
  const block = new Float64Array(PHASH_BLOCK * PHASH_BLOCK);
  for (let v = 0; v < PHASH_BLOCK; v += 1) {
    const basis = COSINES[v];
    for (let u = 0; u < PHASH_BLOCK; u += 1) {
      let sum = 0;
      for (let y = 0; y < side; y += 1) sum += rowCoefficients[y * PHASH_BLOCK + u] * basis[y];
      block[v * PHASH_BLOCK + u] = sum;
    }
  }
  const ac = Array.from(block.subarray(1)).sort((a, b) => a - b);
  const median = (ac[31] + ac[32]) / 2;
  let hi = 0;
  let lo = 0;
  for (let i = 1; i < 64; i += 1) {
    if (block[i] <= median) continue;
    if (i < 32) hi |= 1 << (31 - i);
    else lo |= 1 << (63 - i);
  }
  return { hi: hi >>> 0, lo: lo >>> 0 };
}

function popcount32(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Hamming distance of two hashes: how many of the 64 bits differ. */
export function hammingDistance(a: PerceptualHash, b: PerceptualHash): number {
  return popcount32((a.hi ^ b.hi) >>> 0) + popcount32((a.lo ^ b.lo) >>> 0);
}

/** 16 hex digits, as file records and groups store it. */
export function formatPerceptualHash(hash: PerceptualHash): string {
  return hash.hi.toString(16).padStart(8, '0') + hash.lo.toString(16).padStart(8, '0');
}

export function parsePerceptualHash(hex: string): PerceptualHash {
  if (!/^[0-9a-f]{16}$/.test(hex)) throw new Error('not a 64-bit perceptual hash');
  return { hi: Number.parseInt(hex.slice(0, 8), 16), lo: Number.parseInt(hex.slice(8), 16) };
}

/** A group of similar images: indexes into the input, the first one first, with each one's distance to it. */
export interface SimilarGroup {
  members: number[];
  distances: number[];
}

interface BkNode {
  index: number;
  children: Map<number, BkNode>;
}

/**
 * Groups images whose hash is within `threshold` of the group's first member, greedily in input
 * order (the caller sorts by path, so the result is deterministic): each image not yet in a group
 * starts one and takes every later ungrouped image within the threshold. Neighbours are found with
 * a BK-tree (metric tree on the Hamming distance), so a query visits only the subtrees whose edge
 * distance is within `threshold` of its own distance to a node, not all n images. Yields the event
 * loop between slices. Groups of one are left out.
 */
export async function groupSimilar(hashes: PerceptualHash[], threshold: number): Promise<SimilarGroup[]> {
  let root: BkNode | undefined;
  for (let index = 0; index < hashes.length; index += 1) {
    if (eventLoopSliceDue()) await yieldEventLoop();
    const node: BkNode = { index, children: new Map() };
    if (!root) {
      root = node;
      continue;
    }
    let at = root;
    for (;;) {
      const distance = hammingDistance(hashes[at.index], hashes[index]);
      const next = at.children.get(distance);
      if (!next) {
        at.children.set(distance, node);
        break;
      }
      at = next;
    }
  }
  const grouped = new Uint8Array(hashes.length);
  const groups: SimilarGroup[] = [];
  for (let first = 0; first < hashes.length && root; first += 1) {
    if (grouped[first]) continue;
    if (eventLoopSliceDue()) await yieldEventLoop();
    const found: { index: number; distance: number }[] = [];
    const stack: BkNode[] = [root];
    while (stack.length) {
      const node = stack.pop() as BkNode;
      const distance = hammingDistance(hashes[first], hashes[node.index]);
      if (distance <= threshold && node.index > first && !grouped[node.index]) {
        found.push({ index: node.index, distance });
      }
      for (const [edge, child] of node.children) {
        if (edge >= distance - threshold && edge <= distance + threshold) stack.push(child);
      }
    }
    if (found.length === 0) continue;
    found.sort((a, b) => a.index - b.index);
    grouped[first] = 1;
    for (const member of found) grouped[member.index] = 1;
    groups.push({
      members: [first, ...found.map((member) => member.index)],
      distances: [0, ...found.map((member) => member.distance)],
    });
  }
  return groups;
}
