import fc from 'fast-check';
import { fileTypeFromBuffer } from 'file-type';
import { SNIFF_BYTES, sniffMime } from './content-sniffer.js';

const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));
const utf16le = (text: string): number[] => [...text].flatMap((c) => [c.charCodeAt(0), 0]);
const at = (offset: number, bytes: number[]): number[] => [...Array<number>(offset).fill(0), ...bytes];

/** Leading bytes of many formats (magic numbers at their offsets), for the sniffer to tell apart. */
const SIGNATURES: number[][] = [
  [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, ...ascii('IHDR')],
  [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, ...ascii('JFIF')],
  [0xff, 0xd8, 0xff, 0xe1],
  ascii('GIF89a'),
  ascii('%PDF-1.7\n'),
  [...ascii('PK'), 3, 4, 20, 0, 0, 0, 8, 0],
  [
    ...ascii('PK'),
    3,
    4,
    20,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    19,
    0,
    0,
    0,
    ...ascii('[Content_Types].xml'),
  ],
  [...ascii('RIFF'), 0, 0, 0, 0, ...ascii('WEBPVP8 ')],
  [...ascii('RIFF'), 0, 0, 0, 0, ...ascii('WAVEfmt ')],
  [...ascii('RIFF'), 0, 0, 0, 0, ...ascii('AVI LIST')],
  [0, 0, 0, 0x18, ...ascii('ftypisom')],
  [0, 0, 0, 0x18, ...ascii('ftypheic')],
  [0, 0, 0, 0x18, ...ascii('ftypqt  ')],
  [0, 0, 0, 0x18, ...ascii('ftypM4A ')],
  [...ascii('ID3'), 3, 0, 0, 0, 0, 0, 0],
  [0xff, 0xfb, 0x90, 0x64],
  [...ascii('OggS'), 0, 2, ...Array<number>(22).fill(0), 1, 0x13, ...ascii('OpusHead')],
  ascii('fLaC'),
  ascii('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'),
  [0xef, 0xbb, 0xbf, ...ascii('<?xml version="1.0"?>')],
  [0xff, 0xfe, ...utf16le('<?xml version="1.0"?>')],
  ascii('{\\rtf1\\ansi'),
  ascii('BEGIN:VCARD\r\nVERSION:3.0'),
  ascii('BEGIN:VCALENDAR\r\n'),
  ascii('WEBVTT\n\n'),
  ascii('%!PS-Adobe-3.0 EPSF-3.0'),
  [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c],
  [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0],
  ascii('BZh91AY&SY'),
  at(257, ascii('ustar\u000000')),
  [0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84, ...ascii('webm')],
  [0x7f, ...ascii('ELF'), 2, 1, 1],
  [...ascii('MZ'), 0x90, 0],
  ascii('SQLite format 3\u0000'),
  ascii('MThd'),
  ascii('wOFF'),
  ascii('wOF2'),
  ascii('OTTO'),
  [0, 1, 0, 0, 0],
  [...ascii('II'), 42, 0, 8, 0, 0, 0],
  [...ascii('MM'), 0, 42, 0, 0, 0, 8],
  [...ascii('BM'), 0x36, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0],
  [...ascii('FORM'), 0, 0, 0, 0, ...ascii('AIFF')],
  ascii('MAC '),
  ascii('wvpk'),
  ascii('.snd'),
  ascii('Cr24'),
  ascii('MSCF'),
  ascii('ITSF'),
  ascii('#!AMR\n'),
  ascii('glTF'),
  ascii('8BPS'),
  at(128, ascii('DICM')),
  ascii('AT&TFORM'),
  ascii('LZIP'),
  ascii('xar!'),
  ascii('!<arch>\ndebian-binary'),
  ascii('BLENDER'),
  [0, 0, 1, 0xba, 0x44],
  [0, 0, 1, 0, 1, 0, 16, 16],
  [...ascii('Rar!'), 0x1a, 0x07, 0x01, 0x00],
  [0x28, 0xb5, 0x2f, 0xfd],
  [0xfd, ...ascii('7zXZ'), 0],
  ascii('-----BEGIN PGP MESSAGE-----'),
  ascii('#EXTM3U\n'),
  ascii('ply\nformat ascii 1.0'),
];

/** What the stock file-type says (the sniffer must say the same). */
async function stock(bytes: Uint8Array): Promise<string | undefined> {
  if (bytes.length === 0) return undefined;
  return (await fileTypeFromBuffer(bytes))?.mime;
}

describe('sniffMime', () => {
  it('answers what file-type itself answers, for every known signature at full length', async () => {
    const found: (string | undefined)[] = [];
    for (const signature of SIGNATURES) {
      const head = new Uint8Array(SNIFF_BYTES);
      head.set(signature);
      const mime = await sniffMime(head);
      expect(mime).toBe(await stock(head));
      found.push(mime);
    }
    // The corpus is worth its name: most of it is recognised, as different types.
    expect(new Set(found.filter(Boolean)).size).toBeGreaterThan(30);
  });

  it('answers what file-type answers for signatures cut short, altered, or followed by anything', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SIGNATURES),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 1, max: SNIFF_BYTES }),
        async (signature, cutAt, alterAt, alteredTo, tail, length) => {
          const bytes = [...signature.slice(0, 1 + (cutAt % signature.length)), ...tail];
          if (alterAt % 3 === 0) bytes[alterAt % bytes.length] = alteredTo;
          const head = Uint8Array.from(bytes.slice(0, length));
          expect(await sniffMime(head)).toBe(await stock(head));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('answers what file-type answers for arbitrary bytes, and nothing for no bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: SNIFF_BYTES }), async (head) => {
        expect(await sniffMime(head)).toBe(await stock(head));
      }),
      { numRuns: 300 },
    );
    expect(await sniffMime(new Uint8Array())).toBeUndefined();
  });
});
