import fc from 'fast-check';
import path from 'node:path';
import {
  destinationProblem,
  isInside,
  isReservedName,
  normalizeRequestPath,
  normalizeUserPath,
  PathRuleError,
} from './user-path.js';

/** normalizeUserPath as it was before its fast path: the oracle the fast path must agree with. */
function normalizeUserPathOracle(raw: string, field = 'rootPath'): string {
  if (raw.includes('\0')) throw new PathRuleError(`${field} must not contain a NUL byte`);
  if (Buffer.byteLength(raw) > 1024) throw new PathRuleError(`${field} must be at most 1024 bytes`);
  if (raw.startsWith('/') || raw.startsWith('\\') || /^[A-Za-z]:/.test(raw)) {
    throw new PathRuleError(`${field} must be relative to your folder, not absolute`);
  }
  const segments = raw.split(/[/\\]/);
  if (segments.some((segment) => segment === '..')) throw new PathRuleError(`${field} must not contain a ".." segment`);
  const normalized = path.posix.normalize(segments.join('/'));
  if (normalized === '.' || normalized === './') return '';
  return normalized.replace(/^\.\//, '').replace(/\/+$/, '');
}

const outcome = (normalize: (raw: string) => string, raw: string): string => {
  try {
    return `ok:${normalize(raw)}`;
  } catch (error) {
    return `${(error as Error).constructor.name}:${(error as Error).message}`;
  }
};

describe('user paths', () => {
  it('answers exactly as the full checks do, for any string (fast path for normal paths)', () => {
    // Characters that matter to the rules, and some that do not; lengths around the byte limit too.
    const pathChar = fc.constantFrom('a', 'B', '.', '/', '\\', '\0', ':', 'é', '😀', '\ud800', ' ', '-');
    const near = (n: number) => fc.string({ unit: pathChar, minLength: 0, maxLength: n });
    const long = fc
      .tuple(fc.integer({ min: 330, max: 1030 }), fc.constantFrom('a', 'é', '😀'))
      .map(([n, c]) => c.repeat(n));
    fc.assert(
      fc.property(fc.oneof(near(12), near(40), long, fc.string(), fc.string({ unit: 'grapheme' })), (raw) => {
        expect(outcome(normalizeUserPath, raw)).toBe(outcome(normalizeUserPathOracle, raw));
      }),
      { numRuns: 20_000 },
    );
    for (const raw of [
      'a',
      'a/b',
      '.hidden/x',
      'a/..b',
      'a/b..',
      '...',
      'a/.../b',
      'x'.repeat(1024),
      'é'.repeat(341),
    ]) {
      expect(normalizeUserPath(raw)).toBe(raw);
    }
  });

  it('normalizes relative paths', () => {
    expect(normalizeUserPath('')).toBe('');
    expect(normalizeUserPath('.')).toBe('');
    expect(normalizeUserPath('./inbox/')).toBe('inbox');
    expect(normalizeUserPath('inbox//2024/./x')).toBe('inbox/2024/x');
  });

  it.each([
    ['/etc', /absolute/],
    ['C:\\x', /absolute/],
    ['\\\\server\\share', /absolute/],
    ['..', /\.\./],
    ['a/../../b', /\.\./],
    ['a\\..\\b', /\.\./],
    ['a\0b', /NUL/],
    ['x'.repeat(1025), /1024/],
  ])('refuses %j', (raw, message) => {
    expect(() => normalizeUserPath(raw)).toThrow(PathRuleError);
    expect(() => normalizeUserPath(raw)).toThrow(message);
  });

  it('keeps names that only look like escapes as plain names', () => {
    expect(normalizeUserPath('%2e%2e/x')).toBe('%2e%2e/x');
    expect(normalizeUserPath('．．/x')).toBe('．．/x');
    expect(normalizeUserPath('...')).toBe('...');
  });

  it('tells a folder inside another by whole segments', () => {
    expect(isInside('a/b', 'a')).toBe(true);
    expect(isInside('ab', 'a')).toBe(false);
  });

  it.each([
    ['.fileorganizer', true],
    ['.FileOrganizer', true],
    ['.FILEORGANIZER-tmp-1', true],
    ['.fileorganizer\u0301', true],
    ['.fileorganizeR', true],
    ['fileorganizer', false],
    ['x.fileorganizer', false],
    ['.fileorganize', false],
    ['\uff0efileorganizer', false],
  ])('%j is reserved: %s', (name, reserved) => {
    expect(isReservedName(name)).toBe(reserved);
  });

  it('answers as the full rule (NFC, lower case) does, fast path for an ASCII first character included', () => {
    const full = (name: string): boolean =>
      name.toLowerCase().startsWith('.fileorganizer') ||
      name.normalize('NFC').toLowerCase().startsWith('.fileorganizer');
    // Names built from pieces of the reserved prefix, combining marks and look-alikes, so both branches are met.
    const piece = fc.constantFrom(
      '.',
      '.fileorganizer',
      'F',
      'i',
      'a',
      '\u0301',
      '\u0307',
      '\u0130',
      '\uff0e',
      '\u212a',
      'x',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(piece, { maxLength: 6 }).map((parts) => parts.join('')),
        ),
        (name) => {
          expect(isReservedName(name)).toBe(full(name));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses a reserved segment anywhere in a request path, and in a planned destination', () => {
    expect(() => normalizeRequestPath('inbox/.FileOrganizer/x', 'options.destination')).toThrow(/reserved/);
    expect(() => normalizeRequestPath('.fileorganizer\\quarantine')).toThrow(PathRuleError);
    expect(normalizeRequestPath('inbox/fileorganizer')).toBe('inbox/fileorganizer');
    expect(destinationProblem('a/.fileorganizer-tmp-x')).toMatch(/reserved/);
    expect(destinationProblem(`a/${'x'.repeat(256)}`)).toMatch(/255 bytes/);
    expect(destinationProblem(`a/${'é'.repeat(128)}`)).toMatch(/255 bytes/);
    expect(destinationProblem(`${'x/'.repeat(600)}y`)).toMatch(/1024 bytes/);
    expect(destinationProblem(`a/${'x'.repeat(255)}`)).toBeNull();
  });
});
