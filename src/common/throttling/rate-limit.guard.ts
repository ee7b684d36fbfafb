import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { AppConfig, RateWindow } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AuthUser } from '../auth-user.js';
import { addressBucket } from './address-bucket.js';
import { RATE_LIMIT, RateLimitRule, SKIP_RATE_LIMIT } from './rate-limit.decorator.js';
import { RateLimiterService } from './rate-limiter.service.js';

/** Generous default: a dashboard polling five times a second stays far below it. */
export const DEFAULT_RATE_LIMIT: RateWindow = { limit: 3000, windowSeconds: 60 };

/**
 * Global HTTP rate limit, per user once authenticated, else per client address. Runs after the
 * authentication guard so it can count by user.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiterService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(SKIP_RATE_LIMIT, targets)) return true;
    const declared = this.reflector.getAllAndOverride<RateLimitRule | undefined>(RATE_LIMIT, targets);
    const rule: RateWindow =
      declared === undefined
        ? DEFAULT_RATE_LIMIT
        : 'configured' in declared
          ? this.config.throttles[declared.configured]
          : declared;
    const request = context.switchToHttp().getRequest<Request & { user?: AuthUser }>();
    const response = context.switchToHttp().getResponse<Response>();
    const tracker = request.user ? `user:${request.user.id}` : `ip:${addressBucket(request.ip)}`;
    const name = declared?.name ?? `${context.getClass().name}.${context.getHandler().name}`;
    const state = await this.limiter.hit(`${name}:${tracker}`, rule.limit, rule.windowSeconds);
    response.setHeader('X-RateLimit-Limit', rule.limit);
    response.setHeader('X-RateLimit-Remaining', state.remaining);
    if (state.hits > rule.limit) {
      throw RateLimiterService.tooMany(
        `Rate limit of ${rule.limit} requests per ${rule.windowSeconds} s exceeded; retry in ${state.retryAfterSeconds} s`,
        state.retryAfterSeconds,
      );
    }
    return true;
  }
}
