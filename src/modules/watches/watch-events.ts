import type { AppConfig } from '../../config/app-config.js';

/**
 * The Redis channel on which the API says "a watch was created, changed or deleted": workers
 * then look at their watches at once instead of at their next lease renewal.
 */
export function watchesChangedChannel(config: AppConfig): string {
  return `${config.redisPrefix}:watches:changed`;
}

/** The Redis key of a watch's lease: the id of the worker process that serves it. */
export function watchLeaseKey(config: AppConfig, watchId: string): string {
  return `${config.redisPrefix}:watches:lease:${watchId}`;
}
