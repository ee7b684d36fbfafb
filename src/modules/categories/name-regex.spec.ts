import { templateProblem } from './destination-template.js';
import { compileNameRegex, regexProblem } from './name-regex.js';

describe('nameRegex (RE2)', () => {
  it('searches the name and gives named groups', () => {
    const regex = compileNameRegex('^scan_(?P<year>\\d{4})-(?<month>\\d{2})');
    expect(regex.groups).toEqual(['year', 'month']);
    expect(regex.exec('scan_2024-03-14.pdf')).toEqual({ year: '2024', month: '03' });
    expect(regex.matches('old scan_2024-03.pdf')).toBe(false);
    expect(compileNameRegex('(?i)invoice').matches('My INVOICE.pdf')).toBe(true);
  });

  it('refuses what RE2 cannot run in linear time, and over-long or odd patterns, with the reason', () => {
    expect(regexProblem('(a)\\1')).toMatch(/invalid escape/);
    expect(regexProblem('(?=a)b')).toMatch(/unsupported Perl syntax/);
    expect(regexProblem('(?<=a)b')).toMatch(/RE2/);
    expect(regexProblem('((a{100}){100}){100}')).toMatch(/repeat count/);
    expect(regexProblem('a'.repeat(256))).toMatch(/at most 255/);
    expect(regexProblem('[')).toMatch(/missing closing/);
    expect(regexProblem('a\0')).toMatch(/NUL/);
    expect(regexProblem(Array.from({ length: 17 }, (_, i) => `(?P<g${i}>x)`).join(''))).toMatch(/16 named groups/);
    expect(regexProblem('(a+)+$')).toBeNull();
  });

  it('a pattern that backtracks exponentially elsewhere answers at once', () => {
    const regex = compileNameRegex('^(a+)+$');
    expect(regex.matches(`${'a'.repeat(5000)}!`)).toBe(false);
  });

  it('{match.<group>} only in a rule template whose regex has that group', () => {
    expect(templateProblem('{match.year}/{filename}', { matchGroups: ['year'] })).toBeNull();
    expect(templateProblem('{match.month}/{filename}', { matchGroups: ['year'] })).toMatch(/no group named "month"/);
    expect(templateProblem('{match.year}/{filename}')).toMatch(/only a rule with a nameRegex/);
    expect(templateProblem('{exif.make}/{created.year}/{parent}/{hash8}-{filename}')).toBeNull();
    expect(templateProblem('{exif.lens}/{filename}')).toMatch(/unknown placeholder/);
    expect(templateProblem('{created}/{filename}')).toMatch(/unknown placeholder/);
  });
});
