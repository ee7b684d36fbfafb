import type { AppConfig } from '../../config/app-config.js';

/** The Socket.IO namespace of API.md's live progress. */
export const OPERATIONS_NAMESPACE = '/operations';

/** The room of one operation: its subscribers, on every API instance. */
export function operationRoom(operationId: string): string {
  return `op:${operationId}`;
}

/**
 * Key of the Redis pub/sub channels that the Socket.IO Redis adapter (API instances) and the
 * emitter (workers) share; under REDIS_PREFIX, so deployments (and test apps) sharing one Redis
 * never see each other's events.
 */
export function socketIoChannelKey(config: Pick<AppConfig, 'redisPrefix'>): string {
  return `${config.redisPrefix}:socket.io`;
}

/** Redis hash of one operation's event numbering: `seq` (last number given) and `terminal`. */
export function progressSequenceKey(config: Pick<AppConfig, 'redisPrefix'>, operationId: string): string {
  return `${config.redisPrefix}:progress:${operationId}`;
}

/**
 * How long an operation's numbering outlives its latest event. Longer than any run; a rollback
 * that completes after it expired starts numbering again at 1, which a client sees as a gap.
 */
export const SEQUENCE_TTL_MS = 90 * 24 * 3600 * 1000;
