import path from 'node:path';
import { isReservedName, RESERVED_PREFIX } from '../storage/user-path.js';

export const DEFAULT_TEMPLATE = '{category}/{filename}';
const PLACEHOLDERS = [
  'category',
  'filename',
  'name',
  'ext',
  'year',
  'month',
  'day',
  'parent',
  'hash8',
  'created.year',
  'created.month',
  'created.day',
  'exif.year',
  'exif.month',
  'exif.day',
  'exif.make',
  'exif.model',
] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
/** `{match.<group>}`: a named group of the rule's nameRegex. */
const MATCH_PREFIX = 'match.';
const PLACEHOLDER_PATTERN = /\{([^{}]*)\}/g;
/** Longest value an EXIF string (Make, Model) renders to: they are free text the photo's author chose. */
export const MAX_EXIF_TEXT = 64;

/** What a template needs read from the file besides its name, size and mtime. */
export interface TemplateNeeds {
  /** `{created.*}`: the birth time (a stat). */
  created: boolean;
  /** `{exif.*}`: the head of the file, parsed. */
  exif: boolean;
  /** `{hash8}`: the content hash (a read of the whole file). */
  hash: boolean;
}

/** By template: planning asks once per file, and a run has a handful of templates. */
const needsByTemplate = new Map<string, TemplateNeeds>();
const MAX_KNOWN_TEMPLATES = 1000;

export function templateNeeds(template: string): TemplateNeeds {
  const known = needsByTemplate.get(template);
  if (known) return known;
  const keys = [...template.matchAll(PLACEHOLDER_PATTERN)].map((match) => match[1]);
  const needs: TemplateNeeds = {
    created: keys.some((key) => key.startsWith('created.')),
    exif: keys.some((key) => key.startsWith('exif.')),
    hash: keys.includes('hash8'),
  };
  if (needsByTemplate.size >= MAX_KNOWN_TEMPLATES) needsByTemplate.clear();
  needsByTemplate.set(template, needs);
  return needs;
}

/**
 * Why a template is unusable, or null when it is fine. `matchGroups` are the named groups of the
 * rule's nameRegex: only a rule's own template may use `{match.<group>}`, and only its groups.
 */
export function templateProblem(template: string, options: { matchGroups?: readonly string[] } = {}): string | null {
  if (template.length === 0 || Buffer.byteLength(template) > 512) return 'template must be 1 to 512 bytes long';
  if (template.includes('\0')) return 'template must not contain a NUL byte';
  if (template.startsWith('/') || template.includes('\\')) return 'template must be a relative path with / separators';
  for (const match of template.matchAll(PLACEHOLDER_PATTERN)) {
    const key = match[1];
    if (key.startsWith(MATCH_PREFIX)) {
      const group = key.slice(MATCH_PREFIX.length);
      if (!options.matchGroups) {
        return `template has {${key}}, but only a rule with a nameRegex may use {match.<group>}`;
      }
      if (!options.matchGroups.includes(group)) {
        return `template has {${key}}, but the rule's nameRegex has no group named ${JSON.stringify(group)}`;
      }
      continue;
    }
    if (!(PLACEHOLDERS as readonly string[]).includes(key)) {
      return `template has an unknown placeholder {${key}}; known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')} {match.<group>}`;
    }
  }
  const literal = template.replace(PLACEHOLDER_PATTERN, 'x');
  if (/[{}]/.test(literal)) return 'template has an unbalanced { or }';
  if (literal.split('/').some((segment) => segment === '..' || segment === '.' || segment === '')) {
    return 'template must not contain empty, "." or ".." segments';
  }
  // What a segment starts with before its first placeholder is fixed: a reserved one is refused
  // here; one that only a file's name or category makes reserved fails that file when planned.
  if (template.split('/').some((segment) => isReservedName(segment.split('{')[0]))) {
    return `template must not name a folder or file starting with "${RESERVED_PREFIX}": those names are reserved`;
  }
  if (!/\{(filename|name)\}/.test(template)) return 'template must contain {filename} or {name}';
  return null;
}

/** What a file's EXIF gave: a date (UTC parts as written in the photo) and the camera. */
export interface ExifFacts {
  /** Milliseconds of DateTimeOriginal (else CreateDate), read as UTC; absent when none is usable. */
  takenMs?: number;
  make?: string;
  model?: string;
}

export interface TemplateInput {
  category: string;
  fileName: string;
  mtimeMs: number;
  /** The file's path relative to the user's folder: `{parent}` is its folder's name. */
  sourcePath?: string;
  /** The birth time when the filesystem gives it; `{created.*}` falls back to mtimeMs without. */
  createdMs?: number;
  /** `{exif.*}`: absent or without a date, the date parts fall back to mtimeMs. */
  exif?: ExifFacts | null;
  /** Content hash (hex): `{hash8}` is its first 8 characters. */
  hash?: string;
  /** Named groups of the rule's nameRegex. */
  match?: Record<string, string>;
}

/**
 * A placeholder value may never add a path segment or climb out: separators, NUL and other
 * control characters are replaced, "." and ".." become "_" and "__". A segment that comes out
 * reserved (a category or file name starting with ".fileorganizer") fails that file when planned.
 */
function safeSegmentValue(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this takes out
  const cleaned = value.replace(/[/\\\u0000-\u001f\u007f]/g, '_');
  return cleaned === '.' || cleaned === '..' ? cleaned.replace(/\./g, '_') : cleaned;
}

/**
 * An EXIF text field (attacker-controlled: anyone can write any bytes into a photo) as a name
 * part: control characters out, trimmed, at most MAX_EXIF_TEXT characters, undefined when empty
 * ('unknown' then), and a leading dot of a reserved name replaced, so that a photo cannot make
 * its own destination unusable. safeSegmentValue then takes out separators and dot-names like in
 * any other value.
 */
export function exifText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const cleaned = value
    // eslint-disable-next-line no-control-regex -- control characters are what this takes out
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (cleaned.length === 0) return undefined;
  const short = Array.from(cleaned).slice(0, MAX_EXIF_TEXT).join('').trim();
  return isReservedName(short) ? `_${short.slice(1)}` : short;
}

function splitName(fileName: string): { name: string; ext: string } {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0) return { name: fileName, ext: '' };
  return { name: fileName.slice(0, dot), ext: fileName.slice(dot + 1) };
}

function dateParts(ms: number): { year: string; month: string; day: string } {
  const date = new Date(ms);
  return {
    year: String(date.getUTCFullYear()).padStart(4, '0'),
    month: String(date.getUTCMonth() + 1).padStart(2, '0'),
    day: String(date.getUTCDate()).padStart(2, '0'),
  };
}

/** The value of one placeholder of a valid template for `input` (computed only when the template has it). */
function placeholderValue(key: string, input: TemplateInput): string {
  switch (key) {
    case 'category':
      return input.category;
    case 'filename':
      return input.fileName;
    case 'name':
      return splitName(input.fileName).name;
    case 'ext':
      return splitName(input.fileName).ext;
    case 'year':
      return dateParts(input.mtimeMs).year;
    case 'month':
      return dateParts(input.mtimeMs).month;
    case 'day':
      return dateParts(input.mtimeMs).day;
    case 'parent': {
      const parentPath = input.sourcePath ? path.posix.dirname(input.sourcePath) : '.';
      return parentPath === '.' ? '' : path.posix.basename(parentPath);
    }
    case 'hash8':
      return (input.hash ?? '').slice(0, 8);
    case 'created.year':
      return dateParts(input.createdMs ?? input.mtimeMs).year;
    case 'created.month':
      return dateParts(input.createdMs ?? input.mtimeMs).month;
    case 'created.day':
      return dateParts(input.createdMs ?? input.mtimeMs).day;
    case 'exif.year':
      return dateParts(input.exif?.takenMs ?? input.mtimeMs).year;
    case 'exif.month':
      return dateParts(input.exif?.takenMs ?? input.mtimeMs).month;
    case 'exif.day':
      return dateParts(input.exif?.takenMs ?? input.mtimeMs).day;
    case 'exif.make':
      return input.exif?.make ?? 'unknown';
    case 'exif.model':
      return input.exif?.model ?? 'unknown';
    default:
      return key.startsWith(MATCH_PREFIX) ? (input.match?.[key.slice(MATCH_PREFIX.length)] ?? '') : '';
  }
}

/**
 * Whether a rendered path is already what the tidying below makes of it: not empty, no empty
 * segment (no leading, trailing or double "/"), and no segment ending with "." (which covers "."
 * and ".."). Then path.posix.join leaves it as it is too. Planning renders once per file: most
 * paths take this test instead of the split and join.
 */
function alreadyTidy(rendered: string): boolean {
  return (
    rendered.length > 0 &&
    rendered.charCodeAt(0) !== 47 /* / */ &&
    rendered.charCodeAt(rendered.length - 1) !== 47 &&
    rendered.charCodeAt(rendered.length - 1) !== 46 /* . */ &&
    !rendered.includes('//') &&
    !rendered.includes('./')
  );
}

/** The path (relative, posix) that `template` gives a file; the template must be valid. */
export function renderTemplate(template: string, input: TemplateInput): string {
  const rendered = template.replace(PLACEHOLDER_PATTERN, (_whole, key: string) =>
    safeSegmentValue(placeholderValue(key, input)),
  );
  if (alreadyTidy(rendered)) return rendered;
  // An empty placeholder ({ext} of "README") leaves "a//b" or a trailing "."; tidy it.
  const segments = rendered
    .split('/')
    .map((segment) => (segment.endsWith('.') && segment !== '.' ? segment.replace(/\.+$/, '') : segment))
    .filter((segment) => segment.length > 0)
    .map((segment) => (segment === '.' || segment === '..' ? '_' : segment));
  return path.posix.join(...(segments.length ? segments : ['_']));
}

/** "name (n).ext": the n-th alternative for a taken destination. */
export function numberedAlternative(relativePath: string, n: number): string {
  const dir = path.posix.dirname(relativePath);
  const base = path.posix.basename(relativePath);
  const { name, ext } = splitName(base);
  const next = ext ? `${name} (${n}).${ext}` : `${name} (${n})`;
  return dir === '.' ? next : `${dir}/${next}`;
}
