import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { addressBucket } from '../../common/throttling/address-bucket.js';
import { RateLimiterService } from '../../common/throttling/rate-limiter.service.js';
import { REDIS_CLIENT } from '../../redis/redis.module.js';

/**
 * One atomic step per attempt on an account+address pair. While the pair is locked, answers
 * {0, seconds left}. Otherwise counts the attempt (starting the window on the first); the attempt
 * past the limit locks the pair for base * 2^(lockouts in the last day - 1) seconds, capped.
 * KEYS: attempts, lock, lockouts. ARGV: limit, window, base lockout, max lockout.
 */
const ATTEMPT_SCRIPT = `
local locked = redis.call('TTL', KEYS[2])
if locked > 0 then return { 0, locked } end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if count <= tonumber(ARGV[1]) then return { 1, 0 } end
local lockouts = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], 86400)
local seconds = math.min(tonumber(ARGV[3]) * 2 ^ math.min(lockouts - 1, 30), tonumber(ARGV[4]))
redis.call('SET', KEYS[2], '1', 'EX', seconds)
redis.call('DEL', KEYS[1])
return { 0, seconds }
`;

/**
 * Counts failed logins per account *and client address* in Redis (so the limit holds across API
 * instances), with a lockout that doubles each time. Counting per pair, not per account, is what
 * keeps an attacker from locking the real owner out: the owner logs in from another address.
 * The per-address limit on every login (the route's rate limit) bounds guessing across accounts.
 */
@Injectable()
export class LoginAttemptsService {
  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The email is hashed: keys stay short whatever is sent, and Redis holds no addresses of users. */
  private keys(email: string, clientIp: string): string[] {
    const pair = createHash('sha256')
      .update(`${email}\n${addressBucket(clientIp)}`)
      .digest('hex');
    const base = `${this.config.redisPrefix}:login-failures:${pair}`;
    return [base, `${base}:lock`, `${base}:lockouts`];
  }

  /**
   * Counts an attempt for this email from this address before its password is checked, so that
   * guesses sent all at once cannot all pass a check made before any of them failed. Throws 429
   * with Retry-After while the pair is locked; `succeeded` clears the count and the lockouts.
   */
  async begin(email: string, clientIp: string): Promise<void> {
    const { loginPerAccountIp, loginLockoutSeconds, loginLockoutMaxSeconds } = this.config.throttles;
    const [allowed, retryAfter] = (await this.redis.eval(
      ATTEMPT_SCRIPT,
      3,
      ...this.keys(email, clientIp),
      loginPerAccountIp.limit,
      loginPerAccountIp.windowSeconds,
      loginLockoutSeconds,
      loginLockoutMaxSeconds,
    )) as [number, number];
    if (!allowed) {
      throw RateLimiterService.tooMany(
        `Too many failed logins for this email from this address; try again in ${retryAfter} s`,
        retryAfter,
      );
    }
  }

  async succeeded(email: string, clientIp: string): Promise<void> {
    await this.redis.del(...this.keys(email, clientIp));
  }
}
