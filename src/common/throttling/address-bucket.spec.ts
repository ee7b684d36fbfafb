import { addressBucket } from './address-bucket.js';

describe('addressBucket', () => {
  it('counts IPv4 by address, also when mapped into IPv6', () => {
    expect(addressBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });

  it('counts IPv6 by its /64, however the address is written', () => {
    const bucket = '2001:db8:85a3:42::/64';
    expect(addressBucket('2001:db8:85a3:42::1')).toBe(bucket);
    expect(addressBucket('2001:0db8:85a3:0042:ffff:ffff:ffff:ffff')).toBe(bucket);
    expect(addressBucket('2001:DB8:85A3:42:1:2:3:4%eth0')).toBe(bucket);
    expect(addressBucket('2001:db8:85a3:43::1')).not.toBe(bucket);
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
    expect(addressBucket('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(addressBucket('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });

  it('puts anything that is no address in one bucket, whatever its length', () => {
    expect(addressBucket(undefined)).toBe('unknown');
    expect(addressBucket('')).toBe('invalid');
    expect(addressBucket('x'.repeat(10_000))).toBe('invalid');
    expect(addressBucket('1.2.3.4, 5.6.7.8')).toBe('invalid');
    expect(addressBucket('::ffff:999.1.1.1')).toBe('invalid');
  });
});
