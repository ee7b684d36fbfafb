import type { Readable } from 'node:stream';
import sharp from 'sharp';
import { perceptualHash, PHASH_INPUT_SIDE } from './perceptual-hash.js';
import type { PerceptualHash } from './perceptual-hash.js';

/** Images claiming more pixels than this are refused from their header, before any decoding. */
export const MAX_IMAGE_PIXELS = 100_000_000;
/** Files larger than this are not decoded at all (recorded skipped). */
export const MAX_IMAGE_BYTES = 200 * 1024 * 1024;

/** The extensions a find_similar_images run looks at (lower case); the content is sniffed too. */
export const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'gif', 'webp', 'tif', 'tiff', 'avif']);

/** Bytes of a file's head that sniffImageType needs. */
export const IMAGE_SNIFF_BYTES = 16;

// libvips' operation cache would keep decoded images of files we never look at again.
sharp.cache(false);

export function hasImageExtension(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}

function startsWith(head: Uint8Array, bytes: number[], at = 0): boolean {
  return bytes.every((byte, i) => head[at + i] === byte);
}

function ascii(text: string): number[] {
  return [...text].map((char) => char.charCodeAt(0));
}

/**
 * The image type the file's first bytes show, or null. Only these formats are ever handed to the
 * decoder: a file named .jpg that is something else (SVG, PDF, a script) is never parsed as one.
 */
export function sniffImageType(head: Uint8Array): string | null {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(head, ascii('GIF87a')) || startsWith(head, ascii('GIF89a'))) return 'gif';
  if (startsWith(head, ascii('RIFF')) && startsWith(head, ascii('WEBP'), 8)) return 'webp';
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(head, ascii('ftypavif'), 4) || startsWith(head, ascii('ftypavis'), 4)) return 'avif';
  return null;
}

/** The image could not be decoded: its reason is safe to show (no server path). */
export class UnreadableImageError extends Error {}

/**
 * The pHash of the image `input` streams. sharp decodes and shrinks it on libuv's thread pool
 * (never on the event loop), refuses more than MAX_IMAGE_PIXELS from the header, and stops at the
 * first decoding error; only the 32 x 32 greyscale result comes back, and its DCT is cheap.
 */
export async function imagePerceptualHash(input: Readable): Promise<PerceptualHash> {
  const decoder = sharp({ limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error', sequentialRead: true })
    .removeAlpha()
    .greyscale()
    .resize(PHASH_INPUT_SIDE, PHASH_INPUT_SIDE, { fit: 'fill' })
    .raw();
  input.once('error', (error: Error) => decoder.destroy(error));
  input.pipe(decoder);
  try {
    const { data, info } = await decoder.toBuffer({ resolveWithObject: true });
    if (info.width !== PHASH_INPUT_SIDE || info.height !== PHASH_INPUT_SIDE || info.channels !== 1) {
      throw new UnreadableImageError('unexpected decoder output');
    }
    return perceptualHash(data);
  } catch (error) {
    if (error instanceof UnreadableImageError) throw error;
    const message = error instanceof Error ? error.message : '';
    if (/pixel limit/i.test(message)) {
      throw new UnreadableImageError(`image dimensions exceed ${MAX_IMAGE_PIXELS / 1_000_000} megapixels`);
    }
    if ((error as NodeJS.ErrnoException | null)?.code) throw error;
    throw new UnreadableImageError('not a readable image');
  } finally {
    input.destroy();
  }
}
