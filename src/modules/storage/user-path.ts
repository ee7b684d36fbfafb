import path from 'node:path';

/** A path that breaks API.md's rules; the message says which rule. */
export class PathRuleError extends Error {}

/** The path is well-formed but nothing is there. */
export class MissingPathError extends PathRuleError {}

export const MAX_PATH_BYTES = 1024;

/**
 * Checks and normalizes a path relative to the user's folder (API.md "Storage and paths"):
 * relative, no `..` segment, no NUL byte, at most 1024 bytes. Returns the posix form without
 * leading "./" or trailing "/"; '' is the user's folder itself.
 */
export function normalizeUserPath(raw: string, field = 'rootPath'): string {
  if (raw.includes('\0')) throw new PathRuleError(`${field} must not contain a NUL byte`);
  if (Buffer.byteLength(raw) > MAX_PATH_BYTES) throw new PathRuleError(`${field} must be at most 1024 bytes`);
  if (raw.startsWith('/') || raw.startsWith('\\') || /^[A-Za-z]:/.test(raw)) {
    throw new PathRuleError(`${field} must be relative to your folder, not absolute`);
  }
  const segments = raw.split(/[/\\]/);
  if (segments.some((segment) => segment === '..')) {
    throw new PathRuleError(`${field} must not contain a ".." segment`);
  }
  const normalized = path.posix.normalize(segments.join('/'));
  if (normalized === '.' || normalized === './') return '';
  return normalized.replace(/^\.\//, '').replace(/\/+$/, '');
}

/** True when `a` and `b` are the same folder or one contains the other. */
export function pathsOverlap(a: string, b: string): boolean {
  if (a === '' || b === '' || a === b) return true;
  return a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/** True when `child` is `parent` or inside it. */
export function isInside(child: string, parent: string): boolean {
  return parent === '' || child === parent || child.startsWith(`${parent}/`);
}

export function joinUserPath(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('/');
}
