import { jpegWithExif } from '../../../test/utils/jpeg.js';
import { renderTemplate } from './destination-template.js';
import { exifDateMs, readExif } from './template-facts.js';

describe('template facts: EXIF', () => {
  it('reads Make, Model and DateTimeOriginal from a minimal JPEG', async () => {
    const jpeg = jpegWithExif({ make: 'Canon', model: 'EOS 5D', dateTimeOriginal: '2019:07:04 12:30:00' });
    expect(await readExif(jpeg)).toEqual({ make: 'Canon', model: 'EOS 5D', takenMs: Date.UTC(2019, 6, 4, 12, 30, 0) });
  });

  it('hostile values never add a segment, climb out or name a reserved folder', async () => {
    const cases: [string | Buffer, string][] = [
      ['../../etc', '.._.._etc/_/a.jpg'],
      ['..', '__/_/a.jpg'],
      ['a/b\\c', 'a_b_c/_/a.jpg'],
      [Buffer.from('x\0/../y', 'latin1'), 'x _.._y/_/a.jpg'],
      ['.fileorganizer', '_fileorganizer/_/a.jpg'],
      ['\n\t', 'unknown/_/a.jpg'],
    ];
    for (const [make, expected] of cases) {
      const exif = await readExif(jpegWithExif({ make, model: '/' }));
      expect(exif?.model).toBe('/');
      const rendered = renderTemplate('{exif.make}/{exif.model}/{filename}', {
        category: 'Images',
        fileName: 'a.jpg',
        mtimeMs: 0,
        exif,
      });
      expect(rendered).toBe(expected);
    }
    const long = await readExif(jpegWithExif({ make: 'M'.repeat(500) }));
    expect(long?.make).toHaveLength(64);
  });

  it('no EXIF, a truncated one or a bad date: null or no date (the template falls back to the mtime)', async () => {
    expect(await readExif(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]))).toBeNull();
    expect(await readExif(jpegWithExif({ make: 'Canon' }).subarray(0, 20))).toBeNull();
    expect(await readExif(new TextEncoder().encode('not an image at all'))).toBeNull();
    expect(exifDateMs('2024:02:31 00:00:00')).toBeUndefined();
    expect(exifDateMs('0000:00:00 00:00:00')).toBeUndefined();
    expect(
      renderTemplate('{exif.year}/{filename}', {
        category: 'x',
        fileName: 'a',
        mtimeMs: Date.UTC(2001, 0, 1),
        exif: null,
      }),
    ).toBe('2001/a');
  });
});
