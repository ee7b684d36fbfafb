import { SetMetadata } from '@nestjs/common';
import type { RateWindow, ThrottleConfig } from '../../config/app-config.js';

/** The throttles (config) whose value is a limit and its window. */
export type ConfiguredRateWindow = {
  [K in keyof ThrottleConfig]: ThrottleConfig[K] extends RateWindow ? K : never;
}[keyof ThrottleConfig];

export type RateLimitRule = {
  /** Names the counter; routes with the same name share it. Defaults to the route. */
  name?: string;
} & (RateWindow | { /** The limit and window come from this configured throttle. */ configured: ConfiguredRateWindow });

export const RATE_LIMIT = 'fileorganizer:rateLimit';
export const SKIP_RATE_LIMIT = 'fileorganizer:skipRateLimit';

/** Overrides the default limit for a route or controller (per user, or per address before sign-in). */
export const RateLimit = (rule: RateLimitRule) => SetMetadata(RATE_LIMIT, rule);

export const SkipRateLimit = () => SetMetadata(SKIP_RATE_LIMIT, true);
