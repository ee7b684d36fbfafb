import { fileTypeFromBuffer } from 'file-type';

/** How many leading bytes content sniffing reads (file-type needs at most this many). */
export const SNIFF_BYTES = 4100;

/** The MIME type that a file's first bytes reveal (magic numbers), or undefined. */
export async function sniffMime(head: Uint8Array): Promise<string | undefined> {
  if (head.length === 0) return undefined;
  const found = await fileTypeFromBuffer(head);
  return found?.mime;
}
