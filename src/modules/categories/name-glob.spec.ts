import fc from 'fast-check';
import picomatch from 'picomatch';
import { RE2JS } from 're2js';
import { compileGlob, globProblem, MAX_GLOB_WILDCARDS } from './name-glob.js';

/** The pattern of issue 14: 10 matches on a 40-character name took 26 s under picomatch. */
const PATHOLOGICAL = '+(a|aa)+(a|aa)+(a|aa)+(a|aa)+(a|aa)+(a|aa)+(a|aa)+(a|aa)b';

describe('name globs (RE2, linear time)', () => {
  it.each([
    ['scan-*', 'scan-1.pdf', true],
    ['scan-*', 'SCAN-1.PDF', true],
    ['scan-*', 'a-scan-1.pdf', false],
    ['*.{jpg,jpeg}', 'x.JPEG', true],
    ['*.{jpg,jpeg}', 'x.png', false],
    ['img_????.raw', 'img_0001.raw', true],
    ['img_????.raw', 'img_001.raw', false],
    ['report-[0-9][0-9].txt', 'report-42.txt', true],
    ['report-[!0-9]*.txt', 'report-4.txt', false],
    ['report-[!0-9]*.txt', 'report-x.txt', true],
    ['report-[^0-9]*.txt', 'report-x.txt', true],
    ['*', '.hidden', true],
    ['photo (1).jpg', 'photo (1).jpg', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['!*.tmp', 'x.tmp', false],
    ['!*.tmp', 'x.txt', true],
    ['[]]x', ']x', true],
    ['a.b+c$d^e|f', 'a.b+c$d^e|f', true],
    ['a.b', 'axb', false],
    ['čaj-*', 'ČAJ-1', true],
    ['a', 'a\n', false],
    ['*', 'two\nlines', true],
    ['{a,ab}', 'ab', true],
  ])('%s on %s is %s', (pattern, name, expected) => {
    expect(compileGlob(pattern).matches(name)).toBe(expected);
  });

  // picomatch read `[!a]` as the set {!, a}; a glob (POSIX, bash) reads it as "not a", and so do we.
  it('agrees with picomatch (the former engine) on the documented features', () => {
    const piece = fc.constantFrom('a', 'b', '.', '-', '*', '?', '[ab]', '[^a]', '[a-c]', '{a,b}', '{x,ab}');
    // "." and ".." are never the name of a file.
    const name = fc.stringMatching(/^[ab.\-xc]{1,8}$/).filter((n) => n !== '.' && n !== '..');
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 6 }), name, (pieces, fileName) => {
        const pattern = pieces.join('');
        fc.pre(globProblem(pattern) === null);
        const before = picomatch(pattern, { nocase: true, dot: true })(fileName);
        expect(compileGlob(pattern).matches(fileName)).toBe(before);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    [PATHOLOGICAL, /extglob/],
    ['@(a|b).txt', /extglob/],
    ['!(a).txt', /extglob/],
    ['*(1).jpg', /extglob.*\\\(/],
    ['?(x)', /extglob/],
    ['{a,{b,c}}', /nest/],
    ['{1..9}.txt', /range/],
    ['{a', /not closed/],
    ['[abc', /glob/],
    ['[[:alpha:]]', /POSIX/],
    ['[z-a]', /backwards/],
    ['x\\', /lone/],
    ['*a*b*c*d*e*f*g*h*i', new RegExp(`at most ${MAX_GLOB_WILDCARDS} wildcards`)],
    ['a'.repeat(256), /at most 255 characters/],
  ])('refuses %s', (pattern, reason) => {
    expect(globProblem(pattern)).toMatch(reason);
  });

  it('accepts up to the wildcard limit', () => {
    expect(globProblem('*a*b*c*d*e*f*g*h')).toBeNull();
    expect(globProblem('????????')).toBeNull();
  });

  it('compiles to an RE2 program whose size is linear in the pattern, so matching is linear in the name', () => {
    // RE2 simulates this program over the input without backtracking: the time per character is
    // bounded by the program's size, which the save-time limits bound in turn.
    const worst = `{${Array.from({ length: 32 }, () => 'a').join(',')}}${'*a'.repeat(7)}`;
    for (const pattern of ['scan-*', '*a*a*a*a*a*a*a*a', worst, 'x'.repeat(255)]) {
      const { program } = compileGlob(pattern);
      expect(program).toBeInstanceOf(RE2JS);
      expect(program.programSize()).toBeLessThanOrEqual(4 * pattern.length + 16);
    }
  });

  it('answers adversarial names of any length with a bounded program (no backtracking blow-up)', () => {
    const glob = compileGlob('*a*a*a*a*a*a*a*b');
    // Classic backtracking needs ~n^8 steps here; RE2 visits each character once per program state.
    for (const length of [40, 400, 4000]) expect(glob.matches('a'.repeat(length))).toBe(false);
    expect(glob.matches(`${'a'.repeat(4000)}b`)).toBe(true);
  });
});
