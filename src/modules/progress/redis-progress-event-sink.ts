import { Inject, Injectable } from '@nestjs/common';
import { Emitter } from '@socket.io/redis-emitter';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { REDIS_CLIENT } from '../../redis/redis.module.js';
import {
  OPERATIONS_NAMESPACE,
  operationRoom,
  progressSequenceKey,
  SEQUENCE_TTL_MS,
  socketIoChannelKey,
} from './progress-channels.js';
import { TERMINAL_EVENTS } from './progress-events.js';
import type {
  ProgressEventName,
  ProgressEventPayloads,
  ProgressEventSink,
  ProgressServerEvents,
} from './progress-events.js';

/**
 * `seq` as encoded before Redis numbers the event: the MessagePack of the key "seq" followed by
 * a uint32 (0xce) placeholder. `seq` is the payload's first key, so this is its first occurrence.
 */
const SEQ_PLACEHOLDER = 0xffffffff;
const SEQ_MARKER = Buffer.from([0xa3, 0x73, 0x65, 0x71, 0xce, 0xff, 0xff, 0xff, 0xff]);

/**
 * Numbers and publishes in one atomic step, so the order of `seq` is the order of the messages
 * on the channel, whichever processes publish for an operation (a worker, a stale worker that is
 * about to be fenced out, the API cancelling a pending operation). ARGV: channel, message head
 * (up to the placeholder's 0xce), message tail (after it), TTL in ms, "1" for a terminal event.
 */
const PUBLISH_NUMBERED = `
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'terminal', seq) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. struct.pack('>I4', seq) .. ARGV[3])
return seq
`;

type NumberingRedis = Redis & {
  publishNumberedProgress(
    key: string,
    channel: string,
    head: Buffer,
    tail: Buffer,
    ttlMs: number,
    terminal: '0' | '1',
  ): Promise<number>;
};

/** Splits an encoded message around its `seq` placeholder: [head ending in 0xce, tail]. */
export function splitAtSeqPlaceholder(message: Buffer): [Buffer, Buffer] {
  const at = message.indexOf(SEQ_MARKER);
  if (at < 0) throw new Error('encoded progress event has no seq placeholder');
  const valueStart = at + SEQ_MARKER.length - 4;
  return [message.subarray(0, valueStart), message.subarray(valueStart + 4)];
}

/** The emitter's "Redis client": keeps the message that `emit` encoded, for the numbering script. */
class EncodedMessage {
  channel = '';
  message: Buffer = Buffer.alloc(0);

  publish(channel: string, message: Buffer): void {
    this.channel = channel;
    this.message = message;
  }
}

/**
 * Publishes progress events through Redis to every API instance (`@socket.io/redis-emitter`'s
 * wire format, read by the Redis adapter), into the room of the operation. Works from any role.
 */
@Injectable()
export class RedisProgressEventSink implements ProgressEventSink {
  private readonly encoded = new EncodedMessage();
  private readonly emitter: Emitter<ProgressServerEvents>;
  private readonly redis: NumberingRedis;

  constructor(
    @Inject(REDIS_CLIENT) redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    redis.defineCommand('publishNumberedProgress', { numberOfKeys: 1, lua: PUBLISH_NUMBERED });
    this.redis = redis as NumberingRedis;
    this.emitter = new Emitter<ProgressServerEvents>(this.encoded, { key: socketIoChannelKey(config) }).of(
      OPERATIONS_NAMESPACE,
    );
  }

  async publish<E extends ProgressEventName>(event: E, payload: ProgressEventPayloads[E]): Promise<number> {
    // `emit` encodes and hands the message to `this.encoded` synchronously.
    const emitArgs = [{ seq: SEQ_PLACEHOLDER, ...payload }] as Parameters<ProgressServerEvents[E]>;
    this.emitter.to(operationRoom(payload.operationId)).emit(event, ...emitArgs);
    const { channel, message } = this.encoded;
    const [head, tail] = splitAtSeqPlaceholder(message);
    return this.redis.publishNumberedProgress(
      progressSequenceKey(this.config, payload.operationId),
      channel,
      head,
      tail,
      SEQUENCE_TTL_MS,
      TERMINAL_EVENTS.has(event) ? '1' : '0',
    );
  }

  async currentSeq(operationId: string): Promise<number> {
    return Number((await this.redis.hget(progressSequenceKey(this.config, operationId), 'seq')) ?? 0);
  }

  async terminalPublished(operationId: string): Promise<boolean> {
    return (await this.redis.hexists(progressSequenceKey(this.config, operationId), 'terminal')) === 1;
  }
}
