import type { StorageKind } from '../storage/storage-provider.js';

/**
 * The `cursor` of GET /files: base64url of `{"v":1,"s":<storage>,"p":<folder>,"c":<backend cursor>}`.
 * The backend cursor is the local listing's last position (`d:<name>` / `f:<name>`) or S3's
 * continuation token. It names the folder and backend it was made for, so a cursor replayed on
 * another listing is refused instead of resuming somewhere unrelated. It is not signed: all it can
 * say is where in the caller's own folder to resume (names are checked by the backend, and S3
 * lists under the user's prefix whatever the token says).
 */
export interface ListingCursor {
  storage: StorageKind;
  folder: string;
  backend: string;
}

export function encodeListingCursor(cursor: ListingCursor): string {
  return Buffer.from(JSON.stringify({ v: 1, s: cursor.storage, p: cursor.folder, c: cursor.backend })).toString(
    'base64url',
  );
}

/** The cursor, or null when it is not one this service made. */
export function decodeListingCursor(text: string): ListingCursor | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const { v, s, p, c } = (parsed ?? {}) as Record<string, unknown>;
  if (v !== 1 || (s !== 'local' && s !== 's3') || typeof p !== 'string' || typeof c !== 'string' || c === '') {
    return null;
  }
  return { storage: s, folder: p, backend: c };
}
