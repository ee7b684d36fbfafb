import { isInside, normalizeUserPath, PathRuleError, pathsOverlap } from './user-path.js';

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

  it('tells overlapping trees apart by whole segments', () => {
    expect(pathsOverlap('a', 'a/b')).toBe(true);
    expect(pathsOverlap('a/b', 'a')).toBe(true);
    expect(pathsOverlap('', 'x')).toBe(true);
    expect(pathsOverlap('ab', 'a')).toBe(false);
    expect(pathsOverlap('a/b', 'a/c')).toBe(false);
    expect(isInside('a/b', 'a')).toBe(true);
    expect(isInside('ab', 'a')).toBe(false);
  });
});
