import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { REDIS_CLIENT } from '../../redis/redis.module.js';

/** Counts the hit and starts the window on the first one: one round trip, atomic. */
const HIT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { hits, redis.call('PTTL', KEYS[1]) }
`;

export interface RateLimitState {
  hits: number;
  remaining: number;
  retryAfterSeconds: number;
}

/** Fixed-window counters in Redis, shared by every API instance. */
@Injectable()
export class RateLimiterService {
  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async hit(bucket: string, limit: number, windowSeconds: number): Promise<RateLimitState> {
    const key = `${this.config.redisPrefix}:rate:${bucket}`;
    const [hits, ttlMs] = (await this.redis.eval(HIT_SCRIPT, 1, key, windowSeconds * 1000)) as [number, number];
    return {
      hits,
      remaining: Math.max(0, limit - hits),
      retryAfterSeconds: Math.max(1, Math.ceil((ttlMs > 0 ? ttlMs : windowSeconds * 1000) / 1000)),
    };
  }

  /** The bucket's hits so far in its window, without counting one. */
  async peek(bucket: string, windowSeconds: number): Promise<Omit<RateLimitState, 'remaining'>> {
    const key = `${this.config.redisPrefix}:rate:${bucket}`;
    const [hits, ttlMs] = await Promise.all([this.redis.get(key), this.redis.pttl(key)]);
    return {
      hits: Number(hits ?? 0),
      retryAfterSeconds: Math.max(1, Math.ceil((ttlMs > 0 ? ttlMs : windowSeconds * 1000) / 1000)),
    };
  }

  /** Throws API.md's 429 (with `retryAfter`, which the exception filter turns into Retry-After). */
  static tooMany(message: string, retryAfterSeconds: number): HttpException {
    return new HttpException(
      { statusCode: HttpStatus.TOO_MANY_REQUESTS, error: 'Too Many Requests', message, retryAfter: retryAfterSeconds },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
