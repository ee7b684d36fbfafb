/**
 * A minimal JPEG built in memory: SOI, an APP1 segment with EXIF (little-endian TIFF: IFD0 with
 * Make and Model, an Exif IFD with DateTimeOriginal), EOI. Values are raw bytes, so a test can
 * write what a hostile camera (or person) could: slashes, "..", NUL, control characters.
 */
export interface ExifTags {
  make?: string | Buffer;
  model?: string | Buffer;
  /** "YYYY:MM:DD HH:MM:SS" */
  dateTimeOriginal?: string;
}

const ASCII = 2;
const LONG = 4;

interface Entry {
  tag: number;
  type: number;
  value: Buffer;
}

function ascii(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  return Buffer.concat([bytes, Buffer.from([0])]);
}

/** One IFD at `offset` (from the TIFF header) with its out-of-line values after it. */
function ifd(entries: Entry[], offset: number): Buffer {
  const tableSize = 2 + entries.length * 12 + 4;
  const table = Buffer.alloc(tableSize);
  const data: Buffer[] = [];
  let dataOffset = offset + tableSize;
  table.writeUInt16LE(entries.length, 0);
  entries.forEach((entry, index) => {
    const at = 2 + index * 12;
    table.writeUInt16LE(entry.tag, at);
    table.writeUInt16LE(entry.type, at + 2);
    table.writeUInt32LE(entry.type === ASCII ? entry.value.length : 1, at + 4);
    if (entry.value.length <= 4) {
      entry.value.copy(table, at + 8);
    } else {
      table.writeUInt32LE(dataOffset, at + 8);
      const padded = entry.value.length % 2 ? Buffer.concat([entry.value, Buffer.from([0])]) : entry.value;
      data.push(padded);
      dataOffset += padded.length;
    }
  });
  table.writeUInt32LE(0, tableSize - 4);
  return Buffer.concat([table, ...data]);
}

export function jpegWithExif(tags: ExifTags): Buffer {
  const header = Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00]);
  const ifd0Entries: Entry[] = [];
  if (tags.make !== undefined) ifd0Entries.push({ tag: 0x010f, type: ASCII, value: ascii(tags.make) });
  if (tags.model !== undefined) ifd0Entries.push({ tag: 0x0110, type: ASCII, value: ascii(tags.model) });
  const exifEntries: Entry[] = [];
  if (tags.dateTimeOriginal !== undefined) {
    exifEntries.push({ tag: 0x9003, type: ASCII, value: ascii(tags.dateTimeOriginal) });
  }
  const pointer = Buffer.alloc(4);
  if (exifEntries.length > 0) ifd0Entries.push({ tag: 0x8769, type: LONG, value: pointer });
  // The Exif IFD follows IFD0: IFD0's size does not depend on the pointer's value.
  const ifd0Size = ifd(ifd0Entries, 8).length;
  pointer.writeUInt32LE(8 + ifd0Size);
  const tiff = Buffer.concat([
    header,
    ifd(ifd0Entries, 8),
    exifEntries.length > 0 ? ifd(exifEntries, 8 + ifd0Size) : Buffer.alloc(0),
  ]);
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(payload.length + 2);
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1]), length, payload, Buffer.from([0xff, 0xd9])]);
}
