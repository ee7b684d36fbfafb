import exifr from 'exifr';
import fs from 'node:fs/promises';
import type { StoredFile, UserStorage } from '../storage/storage-provider.js';
import { exifText } from './destination-template.js';
import type { ExifFacts, TemplateInput, TemplateNeeds } from './destination-template.js';

/**
 * Bytes of a file's head read for `{exif.*}`: a JPEG's APP1 (EXIF) segment comes first and is at
 * most 64 KiB by the format; a TIFF's IFD0 is near the start. Nothing else is ever read.
 */
export const EXIF_HEAD_BYTES = 64 * 1024;

/** The facts a template needs beyond the name, size and mtime; how each was found. */
export interface TemplateFacts extends Pick<TemplateInput, 'createdMs' | 'exif' | 'hash'> {
  /** 'birthtime' when the filesystem gave the birth time, 'mtime' when {created.*} fell back. */
  createdFrom?: 'birthtime' | 'mtime';
}

/** "YYYY:MM:DD HH:MM:SS" (EXIF's form, no time zone) as ms read as UTC; undefined when not a real date. */
export function exifDateMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{4}):(\d{2}):(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?/.exec(value.trim());
  if (!match) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1).map((part) => Number(part ?? 0));
  if (year < 1800 || year > 2999 || month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // 2024:02:31 would roll over into March: not a date the camera wrote.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms;
}

/**
 * Reads Make, Model and the date taken from the head of an image (JPEG, TIFF, HEIC…), or null
 * when it has no usable EXIF. The bytes come from the file, so anyone may have written them:
 * the parser gets only this in-memory buffer (never a path or URL), and the strings are cleaned
 * by exifText and again as placeholder values.
 */
export async function readExif(head: Uint8Array): Promise<ExifFacts | null> {
  if (head.byteLength === 0) return null;
  let tags: Record<string, unknown> | undefined;
  try {
    tags = (await exifr.parse(Buffer.from(head.buffer, head.byteOffset, head.byteLength), {
      pick: ['Make', 'Model', 'DateTimeOriginal', 'CreateDate'],
      tiff: true,
      exif: true,
      gps: false,
      interop: false,
      ifd1: false,
      xmp: false,
      icc: false,
      iptc: false,
      jfif: false,
      ihdr: false,
      makerNote: false,
      userComment: false,
      // Dates as the strings the file holds (no Date in the server's time zone); no translations.
      reviveValues: false,
      translateValues: false,
      mergeOutput: true,
    })) as Record<string, unknown> | undefined;
  } catch {
    return null;
  }
  if (!tags) return null;
  const facts: ExifFacts = {};
  const takenMs = exifDateMs(tags.DateTimeOriginal) ?? exifDateMs(tags.CreateDate);
  if (takenMs !== undefined) facts.takenMs = takenMs;
  const make = exifText(tags.Make);
  if (make !== undefined) facts.make = make;
  const model = exifText(tags.Model);
  if (model !== undefined) facts.model = model;
  return Object.keys(facts).length > 0 ? facts : null;
}

/**
 * The birth time of a file on local disk when the filesystem records one (statx's btime, which
 * Node reports as birthtimeMs > 0), and only when the path still names the file the walk saw
 * (same inode); undefined otherwise (S3, filesystems without it), and {created.*} uses the mtime.
 */
async function birthTimeMs(storage: UserStorage, file: StoredFile): Promise<number | undefined> {
  const localFiles = storage.capabilities.localFiles;
  if (!localFiles) return undefined;
  try {
    const absolute = localFiles.absolutePath(file.path);
    // lstat: never a link's target. Only a timestamp is read here, nothing is opened.
    const stat = await fs.lstat(absolute);
    if (!stat.isFile() || (file.ino && stat.ino !== file.ino)) return undefined;
    return stat.birthtimeMs > 0 ? stat.birthtimeMs : undefined;
  } catch {
    return undefined;
  }
}

/** Reads what `needs` asks for; a fact that cannot be read is left out (the template falls back). */
export async function gatherTemplateFacts(
  storage: UserStorage,
  file: StoredFile,
  needs: TemplateNeeds,
): Promise<TemplateFacts> {
  const facts: TemplateFacts = {};
  if (needs.created) {
    const born = await birthTimeMs(storage, file);
    facts.createdMs = born ?? file.mtimeMs;
    facts.createdFrom = born === undefined ? 'mtime' : 'birthtime';
  }
  if (needs.exif) {
    const head = await storage.readHead(file.path, EXIF_HEAD_BYTES).catch(() => new Uint8Array());
    facts.exif = await readExif(head);
  }
  if (needs.hash) {
    // The SHA-256 the duplicate finder and the re-verification use: a read of the whole file.
    facts.hash = await storage.contentHash(file.path).catch(() => undefined);
  }
  return facts;
}
