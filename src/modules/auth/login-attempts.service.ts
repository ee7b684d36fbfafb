import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { RateLimiterService } from '../../common/throttling/rate-limiter.service.js';
import { REDIS_CLIENT } from '../../redis/redis.module.js';

export const MAX_FAILED_LOGINS = 10;
const WINDOW_SECONDS = 60;

/** Counts failed logins per email in Redis, so the limit holds across API instances and IPs. */
@Injectable()
export class LoginAttemptsService {
  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private key(email: string): string {
    return `${this.config.redisPrefix}:login-failures:${email}`;
  }

  /** Throws 429 with Retry-After when this email had too many failures in the window. */
  async assertAllowed(email: string): Promise<void> {
    const key = this.key(email);
    const [[, count], [, ttl]] = (await this.redis.multi().get(key).ttl(key).exec()) as [
      [unknown, string | null],
      [unknown, number],
    ];
    if (Number(count ?? 0) >= MAX_FAILED_LOGINS) {
      const retryAfter = ttl > 0 ? ttl : WINDOW_SECONDS;
      throw RateLimiterService.tooMany(
        `Too many failed logins for this email; try again in ${retryAfter} s`,
        retryAfter,
      );
    }
  }

  async recordFailure(email: string): Promise<void> {
    const key = this.key(email);
    await this.redis.multi().incr(key).expire(key, WINDOW_SECONDS, 'NX').exec();
  }

  async reset(email: string): Promise<void> {
    await this.redis.del(this.key(email));
  }
}
