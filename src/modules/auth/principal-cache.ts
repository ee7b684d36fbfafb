import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AuthUser } from '../../common/auth-user.js';
import { closeRedisClient, createRedisClient, REDIS_CLIENT } from '../../redis/redis.module.js';

interface Entry {
  principal: AuthUser;
  expiresAt: number;
}

/** Entries kept at most; past it the oldest go first (a Map keeps insertion order). */
const MAX_ENTRIES = 100_000;

/**
 * The answer of the per-request login check (user enabled, login not revoked, role), kept for a
 * few seconds (AUTH_SESSION_CACHE_MS) so that a busy client's requests skip a database round trip.
 *
 * Revocation stays immediate: every change that can end a login or change a role (logout, a
 * reused refresh token, an admin disabling a user or changing a role) calls `revoked(userId)`
 * after its transaction commits. That drops the user's entries here at once and publishes the id
 * on a Redis channel, so every other instance drops them as soon as the message arrives. A check
 * that was already reading the database when a revocation arrived is not cached (a counter of
 * revocations; revocations are rare, so a coarse one costs nothing). While the subscription is not up (Redis down or reconnecting)
 * nothing is served from the cache: a missed message must not keep a revoked login alive.
 *
 * What bypasses the service — a SQL statement typed by an operator, `npm run make-admin` —
 * reaches requests once the entry expires.
 */
@Injectable()
export class PrincipalCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('PrincipalCache');
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every revocation (of anyone): a check that was loading meanwhile is not kept. */
  private revocations = 0;
  private subscriber: Redis | null = null;
  private subscribed = false;
  private readonly channel: string;
  private readonly ttlMs: number;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
  ) {
    this.channel = `${config.redisPrefix}:auth:revoked`;
    this.ttlMs = config.authSessionCacheMs;
  }

  async onModuleInit(): Promise<void> {
    if (this.ttlMs === 0) return;
    const subscriber = createRedisClient(this.config, 'auth-revocations', { maxRetriesPerRequest: null });
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined);
    // Whatever happened while the subscription was down may not have been heard: start empty.
    const down = (): void => {
      this.subscribed = false;
      this.entries.clear();
    };
    subscriber.on('close', down);
    subscriber.on('end', down);
    subscriber.on('ready', () => {
      // ioredis subscribes again after a reconnect; the cache serves once it is confirmed.
      subscriber.subscribe(this.channel).then(
        () => {
          this.entries.clear();
          this.subscribed = true;
        },
        () => down(),
      );
    });
    subscriber.on('message', (channel: string, userId: string) => {
      if (channel === this.channel) this.forget(userId);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscribed = false;
    if (this.subscriber) await closeRedisClient(this.subscriber);
  }

  /**
   * The cached principal of this login, or else `load()`'s answer (kept when it is a principal
   * and no revocation of the user happened meanwhile).
   */
  async principal(userId: string, sessionId: string, load: () => Promise<AuthUser | null>): Promise<AuthUser | null> {
    if (!this.serving()) return load();
    const key = `${userId}:${sessionId}`;
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.principal;
    if (hit) this.entries.delete(key);
    const revocations = this.revocations;
    const principal = await load();
    if (principal && this.serving() && this.revocations === revocations) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(key, { principal, expiresAt: Date.now() + this.ttlMs });
    }
    return principal;
  }

  /**
   * A login or role of this user changed (call after the change is committed): forgotten here at
   * once, and on every other instance when the message arrives. A failed publish is logged; the
   * other instances then forget it when their entries expire (at most AUTH_SESSION_CACHE_MS).
   */
  async revoked(userId: string): Promise<void> {
    this.forget(userId);
    if (this.ttlMs === 0) return;
    await this.redis.publish(this.channel, userId).catch((error: unknown) => {
      this.logger.warn(`could not announce the revocation of user ${userId}: ${String(error)}`);
    });
  }

  private serving(): boolean {
    return this.ttlMs > 0 && this.subscribed;
  }

  private forget(userId: string): void {
    this.revocations += 1;
    const prefix = `${userId}:`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}
