import { createRequire } from 'node:module';
import { plannedColumns } from './file-records.store.js';
import type { PlannedFile } from './file-records.store.js';

/** pg's own encoding of a parameter (an array becomes its array literal): what insert() sent before. */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: (value: unknown) => unknown;
};

describe('plannedColumns', () => {
  const awkward = [
    'plain',
    '',
    'with "quotes"',
    'back\\slash',
    '{braces},commas',
    'NULL',
    'sp ace',
    'tab\tnew\nline',
    'ü✓',
  ];
  const files: PlannedFile[] = awkward.map((text, i) => ({
    seq: i * 1000,
    sourcePath: `inbox/${text}/f${i}.bin`,
    destinationPath: i % 3 === 0 ? null : `Other/${text}`,
    category: i % 4 === 0 ? null : text,
    matchedBy: i % 2 === 0 ? 'extension' : `rule:${text}`,
    size: i === 1 ? Number.MAX_SAFE_INTEGER : i * 7,
    mtimeMs: 1_700_000_000_000 + i / 3,
    hash: i === 2 ? 'ab"cd\\' : null,
    status: i % 2 === 0 ? 'planned' : 'failed',
    error: i % 2 === 0 ? null : text,
    ...(i === 4 ? {} : { dev: i === 5 ? null : 2049, ino: i === 6 ? undefined : 123_456_789 + i }),
  }));

  it('is, column by column, the array literal pg makes of the JavaScript arrays', () => {
    const expected = [
      files.map((f) => f.seq),
      files.map((f) => f.sourcePath),
      files.map((f) => f.destinationPath),
      files.map((f) => f.category),
      files.map((f) => f.matchedBy),
      files.map((f) => f.size),
      files.map((f) => f.mtimeMs),
      files.map((f) => f.hash),
      files.map((f) => f.status),
      files.map((f) => f.error),
      files.map((f) => f.dev ?? null),
      files.map((f) => f.ino ?? null),
    ].map((column) => prepareValue(column));
    expect(plannedColumns(files)).toEqual(expected);
  });

  it('makes empty arrays of no files', () => {
    expect(plannedColumns([])).toEqual(Array(12).fill('{}'));
  });
});
