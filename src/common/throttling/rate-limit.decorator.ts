import { SetMetadata } from '@nestjs/common';

export interface RateLimitRule {
  /** Names the counter; routes with the same name share it. Defaults to the route. */
  name?: string;
  limit: number;
  windowSeconds: number;
}

export const RATE_LIMIT = 'fileorganizer:rateLimit';
export const SKIP_RATE_LIMIT = 'fileorganizer:skipRateLimit';

/** Overrides the default limit for a route or controller (per user, or per address before sign-in). */
export const RateLimit = (rule: RateLimitRule) => SetMetadata(RATE_LIMIT, rule);

export const SkipRateLimit = () => SetMetadata(SKIP_RATE_LIMIT, true);
