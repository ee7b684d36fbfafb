import { BadRequestException } from '@nestjs/common';
import { ProtectedPathSet } from './protected-path-set.js';
import { checkedProtectedPaths } from './protected-paths.service.js';

describe('protected paths', () => {
  it('cover the path itself and what lies below it, not a sibling that shares a prefix', () => {
    const set = new ProtectedPathSet(['Photos/Family', 'taxes.pdf']);
    expect(set.covers('Photos/Family')).toBe(true);
    expect(set.covers('Photos/Family/2020/a.jpg')).toBe(true);
    expect(set.covers('Photos/Family2/a.jpg')).toBe(false);
    expect(set.covers('Photos/a.jpg')).toBe(false);
    expect(set.covers('taxes.pdf')).toBe(true);
    expect(set.covers('taxes.pdf.bak')).toBe(false);
    expect(set.covers(null)).toBe(false);
    expect(ProtectedPathSet.NONE.covers('anything')).toBe(false);
  });

  it('compare names in Unicode NFC (a decomposed and a precomposed spelling are one name)', () => {
    const set = new ProtectedPathSet(['Cafe\u0301']);
    expect(set.covers('Caf\u00e9/menu.pdf')).toBe(true);
  });

  it('normalize a requested list and refuse what rootPath refuses', () => {
    expect(checkedProtectedPaths(['b/', './a', 'a/x', 'a', 'c\\d'])).toEqual(['a', 'b', 'c/d']);
    for (const bad of ['..', 'a/../..', '/abs', 'a\0', '.fileorganizer/q', '', '.', 'x'.repeat(1025)]) {
      expect(() => checkedProtectedPaths([bad])).toThrow(BadRequestException);
    }
    expect(() => checkedProtectedPaths(Array.from({ length: 101 }, (_, i) => `p${i}`))).toThrow(/at most 100/);
  });
});
