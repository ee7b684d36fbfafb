import { csvCell, csvRow } from './csv.js';

describe('csvCell', () => {
  it('neutralises every cell a spreadsheet would run as a formula (OWASP CSV injection)', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvCell('+1+1')).toBe('"\'+1+1"');
    expect(csvCell('-2+3')).toBe('"\'-2+3"');
    expect(csvCell('@SUM(A1)')).toBe('"\'@SUM(A1)"');
    expect(csvCell('\t=1')).toBe('"\'\t=1"');
    expect(csvCell('\r=1')).toBe('"\'\r=1"');
    expect(csvCell('\uFF1D1+1')).toBe('"\'\uFF1D1+1"');
  });

  it('quotes quotes, commas and line breaks, and leaves plain text and numbers alone', () => {
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
    expect(csvCell('inbox/a=b.txt')).toBe('inbox/a=b.txt');
    expect(csvCell(42)).toBe('42');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
  });

  it('ends a row with CRLF', () => {
    expect(csvRow(['a', null, '=x'])).toBe('a,,"\'=x"\r\n');
  });
});
