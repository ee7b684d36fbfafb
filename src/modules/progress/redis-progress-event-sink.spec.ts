import { Emitter } from '@socket.io/redis-emitter';
import { decode } from 'notepack.io';
import { splitAtSeqPlaceholder } from './redis-progress-event-sink.js';
import { TokenBucket } from './token-bucket.js';

/** What the Lua script does: the head, seq as a big-endian uint32, the tail. */
function numbered(message: Buffer, seq: number): Buffer {
  const [head, tail] = splitAtSeqPlaceholder(message);
  const value = Buffer.alloc(4);
  value.writeUInt32BE(seq);
  return Buffer.concat([head, value, tail]);
}

describe('numbering an encoded progress event', () => {
  function encode(payload: Record<string, unknown>): { channel: string; message: Buffer } {
    const captured = { channel: '', message: Buffer.alloc(0) };
    const client = {
      publish: (channel: string, message: Buffer) => Object.assign(captured, { channel, message }),
    };
    new Emitter(client, { key: 'fo:socket.io' }).of('/operations').to('op:abc').emit('operation.progress', payload);
    return captured;
  }

  it('puts seq where the placeholder was, leaving the rest of the message intact', () => {
    const payload = {
      seq: 0xffffffff,
      operationId: 'abc',
      // Counters that happen to equal the placeholder do not confuse the split: seq comes first.
      progress: { phase: 'moving', filesTotal: 0xffffffff, bytesScanned: 2 ** 40 },
      at: '2024-01-01T00:00:00.000Z',
    };
    const { channel, message } = encode(payload);
    expect(channel).toBe('fo:socket.io#/operations#op:abc#');
    for (const seq of [1, 2, 255, 65_536, 2 ** 31]) {
      const [uid, packet, options] = decode(numbered(message, seq)) as [
        string,
        { type: number; data: [string, Record<string, unknown>]; nsp: string },
        { rooms: string[] },
      ];
      expect(uid).toBe('emitter');
      expect(packet.nsp).toBe('/operations');
      expect(packet.data).toEqual(['operation.progress', { ...payload, seq }]);
      expect(options.rooms).toEqual(['op:abc']);
    }
  });

  it('refuses a message without the placeholder', () => {
    expect(() => splitAtSeqPlaceholder(encode({ seq: 1, operationId: 'abc' }).message)).toThrow('no seq placeholder');
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the refill rate', () => {
    const bucket = new TokenBucket(3, 2, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
    expect(bucket.take(10_000)).toBe(true);
    expect([bucket.take(10_000), bucket.take(10_000), bucket.take(10_000)]).toEqual([true, true, false]);
  });
});
