import { Categorizer, type CategoryRuleMatcher } from '../../categories/categorizer.js';
import { SNIFF_BYTES } from '../../categories/content-sniffer.js';
import type { StoredFile } from '../../storage/storage-provider.js';
import { destinationProblem, RESERVED_PREFIX } from '../../storage/user-path.js';
import { cannotHaveDestinationProblem, categorizeByName } from './organize.runner.js';

describe('cannotHaveDestinationProblem', () => {
  const long = (n: number): string => 'x'.repeat(n);
  const destinations = [
    'tree/Images/f0000001.jpg',
    'a',
    'Images/.hidden',
    '.hidden/x',
    'Images/x.',
    `tree/${RESERVED_PREFIX}/x`,
    `tree/${RESERVED_PREFIX.toUpperCase()}-x/y`,
    `tree\\${RESERVED_PREFIX}`,
    `tree/${RESERVED_PREFIX.normalize('NFD')}\u0301x`,
    'tree/ünïcødé.txt',
    'tree/ＦＵＬＬ/x',
    long(85),
    long(86),
    `a/${long(255)}`,
    `a/${long(256)}`,
    `${'é'.repeat(128)}/x`,
    `${long(200)}/${long(200)}/${long(200)}/${long(200)}/${long(200)}/${long(200)}`,
    'a//b',
    '',
  ];

  it('is true only where destinationProblem finds nothing, and true for the usual destination', () => {
    for (const destination of destinations) {
      if (cannotHaveDestinationProblem(destination))
        expect([destination, destinationProblem(destination)]).toEqual([destination, null]);
    }
    expect(destinations.filter(cannotHaveDestinationProblem)).toEqual([
      'tree/Images/f0000001.jpg',
      'a',
      'Images/x.',
      long(85),
      'a//b',
      '',
    ]);
    // And destinationProblem does find something in some of the others (the cases are not all fine).
    expect(destinations.filter((d) => destinationProblem(d) !== null).length).toBeGreaterThan(5);
  });
});

describe('categorizeByName', () => {
  const file = (path: string, size = 10, mtimeMs = 1_000): StoredFile => ({ path, size, mtimeMs, dev: 1, ino: 1 });
  const batch = [
    file('a/photo.jpg'),
    file('a/README'),
    file('a/empty', 0),
    file('b/notes.txt'),
    file('b/blob.xyz'),
    file('b/recent', 10, 9_000),
    file('b/.hidden-noext'),
  ];

  it('advises at once the heads of the files whose name does not decide their category, and answers what categorizeWithoutContent answers', async () => {
    const categorizer = new Categorizer();
    const advised: Array<{ paths: readonly string[]; bytes: number }> = [];
    const storage = { adviseHeads: (paths: readonly string[], bytes: number) => void advised.push({ paths, bytes }) };
    const { fileNames, byName } = await categorizeByName(categorizer, storage, batch, 5_000);
    // Not the empty file (nothing to read), not the one changed after the cut-off (not planned).
    expect(advised).toEqual([{ paths: ['a/README', 'b/blob.xyz', 'b/.hidden-noext'], bytes: SNIFF_BYTES }]);
    for (const [i, f] of batch.entries()) {
      if (f.path === 'b/recent') {
        expect([fileNames[i], byName[i]]).toEqual([undefined, undefined]);
        continue;
      }
      expect(fileNames[i]).toBe(f.path.split('/').pop());
      expect(byName[i]).toEqual(
        categorizer.categorizeWithoutContent({ fileName: fileNames[i], size: f.size, mtimeMs: f.mtimeMs }),
      );
    }
    expect(byName[0]).toMatchObject({ category: 'Images', matchedBy: 'extension' });
  });

  it('advises the files a rule must read the content of, and nothing on a storage without read-ahead', async () => {
    // A rule with a MIME criterion cannot decide without content: every file of the batch is read.
    const byMime: CategoryRuleMatcher = {
      id: 'r1',
      name: 'PDFs',
      matches: () => Promise.resolve(false),
      matchesWithoutContent: () => undefined,
    };
    const advised: string[] = [];
    await categorizeByName(
      new Categorizer([byMime]),
      { adviseHeads: (paths) => void advised.push(...paths) },
      batch,
      Infinity,
    );
    expect(advised).toEqual(batch.filter((f) => f.size > 0).map((f) => f.path));
    const { byName } = await categorizeByName(new Categorizer(), {}, batch, Infinity);
    expect(byName[0]).toMatchObject({ category: 'Images' });
  });
});
