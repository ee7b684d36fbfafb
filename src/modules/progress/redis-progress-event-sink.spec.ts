import { Emitter } from '@socket.io/redis-emitter';
import { Redis } from 'ioredis';
import { decode } from 'notepack.io';
import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../../config/app-config.js';
import { progressSequenceKey, socketIoChannelKey } from './progress-channels.js';
import { ProgressEventName } from './progress-events.js';
import { RedisProgressEventSink, splitAtSeqPlaceholder } from './redis-progress-event-sink.js';
import { TokenBucket } from './token-bucket.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

type Decoded = [string, { type: number; data: [string, Record<string, unknown>]; nsp: string }, { rooms: string[] }];

/**
 * The sink's Lua script runs in the real Redis: what a subscriber of the adapter's channel
 * receives is what the Socket.IO Redis adapter will decode and deliver.
 */
describe('RedisProgressEventSink against the real Redis', () => {
  const config = { redisPrefix: `fotest:sink:${randomBytes(5).toString('hex')}` } as AppConfig;
  let redis: Redis;
  let subscriber: Redis;
  let sink: RedisProgressEventSink;
  const received: Buffer[] = [];

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    subscriber = new Redis(REDIS_URL);
    sink = new RedisProgressEventSink(redis, config);
    subscriber.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => received.push(message));
    await subscriber.psubscribe(`${socketIoChannelKey(config)}#*`);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${config.redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    subscriber.disconnect();
    redis.disconnect();
  });

  async function waitForMessages(count: number): Promise<Decoded[]> {
    for (let i = 0; i < 200 && received.length < count; i += 1) await new Promise((r) => setTimeout(r, 10));
    return received.splice(0, count).map((message) => decode(message) as Decoded);
  }

  it('numbers each operation’s events 1, 2, 3… in the message itself, and remembers the terminal one', async () => {
    const operationId = 'op-a';
    const progress = { phase: 'moving', filesTotal: 0xffffffff, bytesScanned: 2 ** 40 };
    const at = '2024-01-01T00:00:00.000Z';
    expect(await sink.currentSeq(operationId)).toBe(0);
    expect(await sink.publish(ProgressEventName.Status, { operationId, status: 'running', at })).toBe(1);
    expect(await sink.publish(ProgressEventName.Progress, { operationId, progress, at } as never)).toBe(2);
    // Another operation has its own numbering.
    expect(await sink.publish(ProgressEventName.Status, { operationId: 'op-b', status: 'running', at })).toBe(1);
    expect(await sink.terminalPublished(operationId)).toBe(false);
    expect(
      await sink.publish(ProgressEventName.Completed, { operationId, status: 'completed', progress, at } as never),
    ).toBe(3);
    expect(await sink.currentSeq(operationId)).toBe(3);
    expect(await sink.terminalPublished(operationId)).toBe(true);
    expect(await sink.terminalPublished('op-b')).toBe(false);

    const messages = await waitForMessages(4);
    expect(messages.map(([, packet]) => [packet.data[0], packet.data[1].operationId, packet.data[1].seq])).toEqual([
      [ProgressEventName.Status, 'op-a', 1],
      [ProgressEventName.Progress, 'op-a', 2],
      [ProgressEventName.Status, 'op-b', 1],
      [ProgressEventName.Completed, 'op-a', 3],
    ]);
    const [uid, packet, options] = messages[1];
    expect(uid).toBe('emitter');
    expect(packet.nsp).toBe('/operations');
    // Counters equal to the placeholder stay intact: only the seq slot is rewritten.
    expect(packet.data[1]).toEqual({ seq: 2, operationId, progress, at });
    expect(options.rooms).toEqual(['op:op-a']);
    const ttl = await redis.pttl(progressSequenceKey(config, operationId));
    expect(ttl).toBeGreaterThan(24 * 3600 * 1000);
  });

  it('numbers events from concurrent publishers without gaps or repeats', async () => {
    const operationId = 'op-c';
    const at = '2024-01-01T00:00:00.000Z';
    const seqs = await Promise.all(
      Array.from({ length: 50 }, () => sink.publish(ProgressEventName.Status, { operationId, status: 'running', at })),
    );
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const messages = await waitForMessages(50);
    // The order on the channel is the order of the numbers.
    expect(messages.map(([, packet]) => packet.data[1].seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
});

describe('splitAtSeqPlaceholder', () => {
  it('refuses a message without the placeholder', () => {
    const captured = { message: Buffer.alloc(0) };
    const client = { publish: (_channel: string, message: Buffer) => Object.assign(captured, { message }) };
    new Emitter(client, { key: 'fo:socket.io' }).of('/operations').to('op:abc').emit('operation.progress', { seq: 1 });
    expect(() => splitAtSeqPlaceholder(captured.message)).toThrow('no seq placeholder');
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
