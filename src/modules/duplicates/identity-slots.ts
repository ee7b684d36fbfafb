/**
 * Slots of the open-addressing tables keyed by a file's (inode, device), the hash cache's index and
 * duplicate detection's hard-link check: one hash function and one sizing rule for both.
 */

/** The table's size as a power of two: at least twice `entries` (at most half full), 16 at least. */
export function slotBits(entries: number): number {
  let bits = 4;
  while (1 << bits < entries * 2) bits++;
  return bits;
}

/** Fibonacci hashing of (ino, dev) into a table of 2^`bits` slots: the high bits of the product, the well-mixed ones. */
export function identitySlot(ino: number, dev: number, bits: number): number {
  return Math.imul((ino | 0) ^ ((ino / 4294967296) | 0) ^ Math.imul(dev | 0, 0x85ebca6b), 0x9e3779b1) >>> (32 - bits);
}
