import { Emitter } from '@socket.io/redis-emitter';
import { decode } from 'notepack.io';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { AppConfig } from '../../config/app-config.js';
import { ProgressEventName } from './progress-events.js';
import { RedisProgressEventSink, splitAtSeqPlaceholder } from './redis-progress-event-sink.js';
import { TokenBucket } from './token-bucket.js';

describe('numbering an encoded progress event', () => {
  function encode(payload: Record<string, unknown>): { channel: string; message: Buffer } {
    const captured = { channel: '', message: Buffer.alloc(0) };
    const client = {
      publish: (channel: string, message: Buffer) => Object.assign(captured, { channel, message }),
    };
    new Emitter(client, { key: 'fo:socket.io' }).of('/operations').to('op:abc').emit('operation.progress', payload);
    return captured;
  }

  it('numbers events with the real script in the real Redis: seq in place, the rest intact, in publish order', async () => {
    const prefix = `fotest:sink:${randomBytes(4).toString('hex')}`;
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const subscriber = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const sink = new RedisProgressEventSink(redis, { redisPrefix: prefix } as AppConfig);
      const channel = `${prefix}:socket.io#/operations#op:abc#`;
      const received: Buffer[] = [];
      subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => received.push(message));
      await subscriber.subscribe(channel);
      const progress = { phase: 'moving', filesTotal: 0xffffffff, bytesScanned: 2 ** 40 };
      const at = '2024-01-01T00:00:00.000Z';
      // Counters that happen to equal the placeholder do not confuse the split: seq comes first.
      expect(await sink.publish(ProgressEventName.Progress, { operationId: 'abc', progress, at } as never)).toBe(1);
      expect(await sink.publish(ProgressEventName.Progress, { operationId: 'abc', progress, at } as never)).toBe(2);
      expect(await sink.terminalPublished('abc')).toBe(false);
      expect(
        await sink.publish(ProgressEventName.Completed, {
          operationId: 'abc',
          status: 'completed',
          progress,
          at,
        } as never),
      ).toBe(3);
      for (let attempt = 0; received.length < 3 && attempt < 100; attempt += 1)
        await new Promise((r) => setTimeout(r, 20));
      const decoded = received.map(
        (message) =>
          decode(message) as [string, { data: [string, Record<string, unknown>]; nsp: string }, { rooms: string[] }],
      );
      expect(decoded.map(([, packet]) => packet.data)).toEqual([
        ['operation.progress', { seq: 1, operationId: 'abc', progress, at }],
        ['operation.progress', { seq: 2, operationId: 'abc', progress, at }],
        ['operation.completed', { seq: 3, operationId: 'abc', status: 'completed', progress, at }],
      ]);
      for (const [uid, packet, options] of decoded) {
        expect(uid).toBe('emitter');
        expect(packet.nsp).toBe('/operations');
        expect(options.rooms).toEqual(['op:abc']);
      }
      expect(await sink.currentSeq('abc')).toBe(3);
      expect(await sink.terminalPublished('abc')).toBe(true);
      expect(await redis.pttl(`${prefix}:progress:abc`)).toBeGreaterThan(0);
      // The placeholder's bytes are a uint32: numbering goes on past 65,535 and 2^31.
      await redis.hset(`${prefix}:progress:abc`, 'seq', 2 ** 31 - 1);
      expect(await sink.publish(ProgressEventName.Progress, { operationId: 'abc', progress, at } as never)).toBe(
        2 ** 31,
      );
      for (let attempt = 0; received.length < 4 && attempt < 100; attempt += 1)
        await new Promise((r) => setTimeout(r, 20));
      expect((decode(received[3]) as [string, { data: [string, { seq: number }] }])[1].data[1].seq).toBe(2 ** 31);
    } finally {
      await redis.del(`${prefix}:progress:abc`);
      subscriber.disconnect();
      redis.disconnect();
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
