import { Categorizer } from './categorizer.js';

const file = (fileName: string, head: number[] = [], size = 10) => ({
  fileName,
  size,
  readHead: async () => Uint8Array.from(head),
});

describe('Categorizer', () => {
  const categorizer = new Categorizer();

  it.each([
    ['a.JPG', 'Images'],
    ['b.Pdf', 'Documents'],
    ['c.numbers', 'Spreadsheets'],
    ['d.key', 'Presentations'],
    ['e.OPUS', 'Audio'],
    ['f.m4v', 'Videos'],
    ['g.tar.gz', 'Archives'],
    ['h.yaml', 'Code'],
    ['i.xyz', 'Other'],
  ])('%s is %s by extension', async (name, category) => {
    const result = await categorizer.categorize(file(name));
    expect(result.category).toBe(category);
  });

  it('sniffs files without a known extension by their magic bytes', async () => {
    const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52];
    expect(await categorizer.categorize(file('noext', png))).toEqual({ category: 'Images', matchedBy: 'content' });
    expect(await categorizer.categorize(file('noext', [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]))).toEqual({
      category: 'Archives',
      matchedBy: 'content',
    });
    expect(await categorizer.categorize(file('plain', [0x68, 0x69]))).toEqual({
      category: 'Other',
      matchedBy: 'extension',
    });
  });

  it('reads no content when the extension decides', async () => {
    let reads = 0;
    await categorizer.categorize({ fileName: 'x.png', size: 5, readHead: async () => (reads++, new Uint8Array()) });
    expect(reads).toBe(0);
  });

  it('applies user rules first, in the order given', async () => {
    const rules = new Categorizer([
      { id: 'r1', name: 'Scans', template: 'scans/{filename}', matches: async (f) => f.fileName.startsWith('scan') },
      { id: 'r2', name: 'Never', matches: async () => true },
    ]);
    expect(await rules.categorize(file('scan-1.pdf'))).toEqual({
      category: 'Scans',
      matchedBy: 'rule:r1',
      template: 'scans/{filename}',
    });
    expect((await rules.categorize(file('x.pdf'))).matchedBy).toBe('rule:r2');
  });
});
