import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { RateLimiterService } from '../../common/throttling/rate-limiter.service.js';
import { REDIS_CLIENT } from '../../redis/redis.module.js';

export const MAX_FAILED_LOGINS = 10;
const WINDOW_SECONDS = 60;

/**
 * Counts the attempt and starts the window on the first one, in one atomic step, and answers
 * the count and the seconds left in the window.
 */
const ATTEMPT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return { count, redis.call('TTL', KEYS[1]) }
`;

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

  /**
   * Counts an attempt for this email before its password is checked, so that guesses sent all at
   * once cannot all pass a check made before any of them failed. Throws 429 with Retry-After
   * once the email had `MAX_FAILED_LOGINS` attempts in the window; `succeeded` clears the count.
   */
  async begin(email: string): Promise<void> {
    const [count, ttl] = (await this.redis.eval(ATTEMPT_SCRIPT, 1, this.key(email), WINDOW_SECONDS)) as [
      number,
      number,
    ];
    if (count > MAX_FAILED_LOGINS) {
      const retryAfter = ttl > 0 ? ttl : WINDOW_SECONDS;
      throw RateLimiterService.tooMany(
        `Too many failed logins for this email; try again in ${retryAfter} s`,
        retryAfter,
      );
    }
  }

  async succeeded(email: string): Promise<void> {
    await this.redis.del(this.key(email));
  }
}
