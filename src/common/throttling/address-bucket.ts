import net from 'node:net';

/**
 * The client address as per-address limits count it. An IPv6 host usually holds a whole /64 and
 * can pick a fresh address per request, so IPv6 addresses count by their /64; IPv4 (also mapped
 * into IPv6) by the address. Anything else (no address, or a forwarded value that is no address)
 * shares one bucket, and a key never grows with what a client sent.
 */
export function addressBucket(ip: string | undefined): string {
  if (ip === undefined) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped && net.isIPv4(mapped[1])) return mapped[1];
  if (net.isIPv4(ip)) return ip;
  if (!net.isIPv6(ip)) return 'invalid';
  const address = ip.split('%')[0];
  // An embedded IPv4 tail ("64:ff9b::1.2.3.4") fills the last two groups.
  const groups = (part: string) =>
    part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const full = [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  return `${full
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}
