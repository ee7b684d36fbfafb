import fc from 'fast-check';
import {
  destinationProblem,
  isInside,
  isReservedName,
  normalizeRequestPath,
  normalizeUserPath,
  PathRuleError,
} from './user-path.js';

describe('user paths', () => {
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
