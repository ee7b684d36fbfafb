import fc from 'fast-check';
import {
  formatPerceptualHash,
  groupSimilar,
  hammingDistance,
  parsePerceptualHash,
  perceptualHash,
} from './perceptual-hash.js';
import type { PerceptualHash, SimilarGroup } from './perceptual-hash.js';

/** The same greedy grouping, by comparing every pair: what the BK-tree must answer. */
function bruteForce(hashes: PerceptualHash[], threshold: number): SimilarGroup[] {
  const grouped = new Set<number>();
  const groups: SimilarGroup[] = [];
  hashes.forEach((first, i) => {
    if (grouped.has(i)) return;
    const members = [i];
    const distances = [0];
    for (let j = i + 1; j < hashes.length; j += 1) {
      const distance = hammingDistance(first, hashes[j]);
      if (!grouped.has(j) && distance <= threshold) {
        members.push(j);
        distances.push(distance);
      }
    }
    if (members.length < 2) return;
    members.forEach((member) => grouped.add(member));
    groups.push({ members, distances });
  });
  return groups;
}

const hashArbitrary = fc.record({ hi: fc.nat({ max: 0xffffffff }), lo: fc.nat({ max: 0xffffffff }) });

describe('perceptual hash', () => {
  it('is stable under a brightness change and differs for another picture', () => {
    // Not a separable ramp: its AC block would be all zeros but for rounding noise.
    const gradient = Uint8Array.from({ length: 1024 }, (_, i) => {
      const x = i % 32;
      const y = Math.floor(i / 32);
      const blob = (x - 10) ** 2 + (y - 20) ** 2 < 36 ? 60 : 0;
      return Math.round(100 + 40 * Math.sin(x / 5) * Math.cos(y / 7) + blob);
    });
    const brighter = gradient.map((value) => Math.min(255, value + 20));
    const flipped = gradient.map((_, i) => gradient[1023 - i]);
    expect(hammingDistance(perceptualHash(gradient), perceptualHash(brighter))).toBeLessThanOrEqual(2);
    expect(hammingDistance(perceptualHash(gradient), perceptualHash(flipped))).toBeGreaterThan(8);
  });

  it('formats and parses 16 hex digits, and refuses anything else', () => {
    fc.assert(
      fc.property(hashArbitrary, (hash) => {
        expect(parsePerceptualHash(formatPerceptualHash(hash))).toEqual(hash);
      }),
    );
    expect(() => parsePerceptualHash('xyz')).toThrow();
  });

  it('groups exactly as comparing every pair would (BK-tree), small and clustered inputs', async () => {
    // Clusters: a few centres with a few bits flipped, so groups really form.
    const clustered = fc
      .tuple(
        fc.array(hashArbitrary, { minLength: 1, maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(4), fc.nat(63), fc.nat(63)), { maxLength: 60 }),
      )
      .map(([centres, variants]) =>
        variants.map(([centre, bitA, bitB]) => {
          const base = centres[centre % centres.length];
          const flip = (hash: PerceptualHash, bit: number): PerceptualHash =>
            bit < 32
              ? { hi: (hash.hi ^ (1 << bit)) >>> 0, lo: hash.lo }
              : { hi: hash.hi, lo: (hash.lo ^ (1 << (bit - 32))) >>> 0 };
          return flip(flip(base, bitA), bitB);
        }),
      );
    await fc.assert(
      fc.asyncProperty(clustered, fc.integer({ min: 0, max: 32 }), async (hashes, threshold) => {
        expect(await groupSimilar(hashes, threshold)).toEqual(bruteForce(hashes, threshold));
      }),
      { numRuns: 200 },
    );
  });
});
