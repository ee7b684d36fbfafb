import path from 'node:path';
import { isReservedName, RESERVED_PREFIX } from '../storage/user-path.js';

export const DEFAULT_TEMPLATE = '{category}/{filename}';
const PLACEHOLDERS = ['category', 'filename', 'name', 'ext', 'year', 'month', 'day'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
const PLACEHOLDER_PATTERN = /\{([^{}]*)\}/g;

/** Why a template is unusable, or null when it is fine. */
export function templateProblem(template: string): string | null {
  if (template.length === 0 || Buffer.byteLength(template) > 512) return 'template must be 1 to 512 bytes long';
  if (template.includes('\0')) return 'template must not contain a NUL byte';
  if (template.startsWith('/') || template.includes('\\')) return 'template must be a relative path with / separators';
  for (const match of template.matchAll(PLACEHOLDER_PATTERN)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(match[1])) {
      return `template has an unknown placeholder {${match[1]}}; known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`;
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

export interface TemplateInput {
  category: string;
  fileName: string;
  mtimeMs: number;
}

/** A placeholder value may never add a path segment or climb out: separators and dot-names are replaced. */
function safeSegmentValue(value: string): string {
  const cleaned = value.replace(/[/\\\0]/g, '_');
  return cleaned === '.' || cleaned === '..' ? cleaned.replace(/\./g, '_') : cleaned;
}

function splitName(fileName: string): { name: string; ext: string } {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0) return { name: fileName, ext: '' };
  return { name: fileName.slice(0, dot), ext: fileName.slice(dot + 1) };
}

/** The path (relative, posix) that `template` gives a file; the template must be valid. */
export function renderTemplate(template: string, input: TemplateInput): string {
  const date = new Date(input.mtimeMs);
  const { name, ext } = splitName(input.fileName);
  const values: Record<Placeholder, string> = {
    category: input.category,
    filename: input.fileName,
    name,
    ext,
    year: String(date.getUTCFullYear()).padStart(4, '0'),
    month: String(date.getUTCMonth() + 1).padStart(2, '0'),
    day: String(date.getUTCDate()).padStart(2, '0'),
  };
  const rendered = template.replace(PLACEHOLDER_PATTERN, (_whole, key: Placeholder) => safeSegmentValue(values[key]));
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
