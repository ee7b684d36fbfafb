import path from 'node:path';
import { PathNotFound, PathRejected } from './storage-errors.js';

/** @deprecated PathRejected's earlier name (storage-errors.ts), kept while other branches import it. */
export const PathRuleError = PathRejected;
export type PathRuleError = PathRejected;
/** @deprecated PathNotFound's earlier name (storage-errors.ts), kept while other branches import it. */
export const MissingPathError = PathNotFound;
export type MissingPathError = PathNotFound;

export const MAX_PATH_BYTES = 1024;
/** NAME_MAX of Linux filesystems: bytes of one path segment (UTF-8). */
export const NAME_MAX_BYTES = 255;

/**
 * Names the service keeps for itself in a user's folder (quarantine, temp copies): never scanned,
 * never listed, never moved, and no user input may name one.
 */
export const RESERVED_PREFIX = '.fileorganizer';

/**
 * The one rule for reserved names: a segment that is or starts with `.fileorganizer` in any case,
 * after Unicode NFC (a precomposed and a decomposed spelling are the same name to a user, and to
 * some filesystems; case-insensitive filesystems fold case).
 */
export function isReservedName(segment: string): boolean {
  // Most names start with an ASCII character other than '.': neither NFC (an ASCII starter only
  // composes into a non-ASCII letter) nor lower-casing makes that a '.', so the name cannot be
  // reserved. Scans ask this once per entry; the two normalizations below are most of its cost.
  const first = segment.charCodeAt(0);
  if (first < 0x80 && first !== 0x2e) return false;
  // The raw spelling too: NFC can turn a reserved prefix into another name (".fileorganizer" +
  // U+0301 composes to "...ŕ"), and failing closed costs nothing.
  return (
    segment.toLowerCase().startsWith(RESERVED_PREFIX) ||
    segment.normalize('NFC').toLowerCase().startsWith(RESERVED_PREFIX)
  );
}

/** Why a user path (or template, split on "/") names a reserved segment, or null. */
export function reservedNameProblem(value: string, field: string): string | null {
  const segment = value.split(/[/\\]/).find(isReservedName);
  if (segment === undefined) return null;
  return `${field} must not name ${JSON.stringify(segment)}: names starting with "${RESERVED_PREFIX}" are reserved`;
}

/** normalizeUserPath for a path that comes from a request: reserved names are refused too. */
export function normalizeRequestPath(raw: string, field = 'rootPath'): string {
  const normalized = normalizeUserPath(raw, field);
  const problem = reservedNameProblem(normalized, field);
  if (problem) throw new PathRejected(problem);
  return normalized;
}

/**
 * Why a destination the service computed for one file (a rendered template) cannot be used, or
 * null: a reserved segment, a segment over NAME_MAX, or more than the API's path limit. The
 * backend's own limit (PATH_MAX with the root, an S3 key) is UserStorage.lengthProblem.
 */
export function destinationProblem(relativePath: string): string | null {
  const reserved = reservedNameProblem(relativePath, 'the destination');
  if (reserved) return reserved;
  if (Buffer.byteLength(relativePath) > MAX_PATH_BYTES) {
    return `the destination is longer than ${MAX_PATH_BYTES} bytes`;
  }
  if (relativePath.split('/').some((segment) => Buffer.byteLength(segment) > NAME_MAX_BYTES)) {
    return `a name in the destination is longer than ${NAME_MAX_BYTES} bytes`;
  }
  return null;
}

/**
 * Checks and normalizes a path relative to the user's folder (API.md "Storage and paths"):
 * relative, no `..` segment, no NUL byte, at most 1024 bytes. Returns the posix form without
 * leading "./" or trailing "/"; '' is the user's folder itself.
 */
export function normalizeUserPath(raw: string, field = 'rootPath'): string {
  if (isNormalUserPath(raw)) return raw;
  if (raw.includes('\0')) throw new PathRejected(`${field} must not contain a NUL byte`);
  if (Buffer.byteLength(raw) > MAX_PATH_BYTES) throw new PathRejected(`${field} must be at most 1024 bytes`);
  if (raw.startsWith('/') || raw.startsWith('\\') || /^[A-Za-z]:/.test(raw)) {
    throw new PathRejected(`${field} must be relative to your folder, not absolute`);
  }
  const segments = raw.split(/[/\\]/);
  if (segments.some((segment) => segment === '..')) {
    throw new PathRejected(`${field} must not contain a ".." segment`);
  }
  const normalized = path.posix.normalize(segments.join('/'));
  if (normalized === '.' || normalized === './') return '';
  return normalized.replace(/^\.\//, '').replace(/\/+$/, '');
}

/**
 * True when `raw` is a path normalizeUserPath accepts and returns unchanged: segments joined by
 * single slashes, none empty, `.` or `..`, no NUL or backslash, not absolute, within the byte
 * limit. One pass over the characters, no allocation: the service normalizes every path it
 * handles (planning, reading, each move's source and destination), and these paths, which it
 * wrote itself, are nearly always already normal; the checks below then cost ~1 µs a call, 10x
 * this. Anything unusual (a colon second, which a drive letter has; a long path with non-ASCII
 * characters) goes the full way, which decides.
 */
function isNormalUserPath(raw: string): boolean {
  const length = raw.length;
  if (length === 0) return false;
  let ascii = true;
  let segmentStart = 0;
  for (let i = 0; i <= length; i++) {
    const code = i < length ? raw.charCodeAt(i) : 0x2f;
    if (code === 0 || code === 0x5c || (code === 0x3a && i === 1)) return false;
    if (code >= 0x80) ascii = false;
    if (code !== 0x2f) continue;
    const segment = i - segmentStart;
    // An empty segment: a leading slash (absolute), a double slash or a trailing one.
    if (segment === 0) return false;
    // `.` or `..`.
    if (segment <= 2 && raw.charCodeAt(segmentStart) === 0x2e && (segment === 1 || raw.charCodeAt(i - 1) === 0x2e)) {
      return false;
    }
    segmentStart = i + 1;
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes, an ASCII one exactly 1.
  return ascii ? length <= MAX_PATH_BYTES : length * 3 <= MAX_PATH_BYTES;
}

/** True when `child` is `parent` or inside it. */
export function isInside(child: string, parent: string): boolean {
  return parent === '' || child === parent || child.startsWith(`${parent}/`);
}

export function joinUserPath(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('/');
}
