import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import type { AuthUser } from '../../common/auth-user.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { createWithinCap, type PerUserCap } from '../../common/per-user-cap.js';
import { addressBucket } from '../../common/throttling/address-bucket.js';
import { RateLimiterService } from '../../common/throttling/rate-limiter.service.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { ApiKey } from './api-key.entity.js';
import { digestSecret, randomSecret } from './secret-token.js';

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

const KEY_MARKER = 'fo_';
const PREFIX_LENGTH = KEY_MARKER.length + 8;
/** lastUsedAt is a hint for the owner; writing it more often than this costs a write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

function toView(key: ApiKey): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}

@Injectable()
export class ApiKeysService {
  constructor(
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    private readonly limiter: RateLimiterService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(owner: AuthUser, name: string, expiresAt?: string): Promise<ApiKeyView & { key: string }> {
    let expires: Date | null = null;
    if (expiresAt !== undefined) {
      expires = new Date(expiresAt);
      if (Number.isNaN(expires.getTime()) || expires.getTime() <= Date.now()) {
        throw new BadRequestException('expiresAt must be a date-time in the future');
      }
    }
    const key = `${KEY_MARKER}${randomSecret()}`;
    const cap: PerUserCap = {
      what: 'API keys',
      userId: owner.id,
      max: this.config.throttles.maxApiKeysPerUser,
      count: (manager) => manager.count(ApiKey, { where: { userId: owner.id, revokedAt: IsNull() } }),
      hint: 'revoke one first',
    };
    const saved = await createWithinCap(this.keys.manager, cap, (manager) =>
      manager.save(
        manager.create(ApiKey, {
          userId: owner.id,
          name,
          prefix: key.slice(0, PREFIX_LENGTH),
          keyHash: digestSecret(key),
          expiresAt: expires,
        }),
      ),
    );
    return { ...toView(saved), key };
  }

  /** The caller's keys that are not revoked, newest first, as one page. */
  async list(owner: AuthUser, page: number, limit: number): Promise<Page<ApiKeyView>> {
    const [keys, total] = await this.keys.findAndCount({
      where: { userId: owner.id, revokedAt: IsNull() },
      order: { createdAt: 'DESC', id: 'ASC' },
      skip: (page - 1) * limit,
      take: limit,
    });
    return { items: keys.map(toView), total, page, limit };
  }

  async revoke(owner: AuthUser, id: string): Promise<void> {
    const result = await this.keys.update({ id, userId: owner.id, revokedAt: IsNull() }, { revokedAt: new Date() });
    if (!result.affected) throw new NotFoundException('API key not found');
  }

  /**
   * The caller an `X-API-Key` value stands for, or null when it is unknown, revoked or expired.
   * Failures are counted per `clientIp` (null: re-checking a key that already authenticated); past
   * the limit every key from that address answers 429 until the window ends, a valid one too, so
   * the answer tells a guesser nothing.
   */
  async authenticate(presented: string, clientIp: string | null): Promise<AuthUser | null> {
    const { limit, windowSeconds } = this.config.throttles.apiKeyFailuresPerIp;
    const bucket = `api-key-failures:ip:${addressBucket(clientIp ?? undefined)}`;
    if (clientIp !== null) {
      const state = await this.limiter.peek(bucket, windowSeconds);
      if (state.hits >= limit) throw this.tooManyFailures(limit, windowSeconds, state.retryAfterSeconds);
    }
    const user = await this.lookUp(presented);
    if (!user && clientIp !== null) {
      const state = await this.limiter.hit(bucket, limit, windowSeconds);
      if (state.hits > limit) throw this.tooManyFailures(limit, windowSeconds, state.retryAfterSeconds);
    }
    return user;
  }

  private tooManyFailures(limit: number, windowSeconds: number, retryAfter: number) {
    return RateLimiterService.tooMany(
      `More than ${limit} failed API key authentications from this address in ${windowSeconds} s; retry in ${retryAfter} s`,
      retryAfter,
    );
  }

  private async lookUp(presented: string): Promise<AuthUser | null> {
    if (!presented.startsWith(KEY_MARKER) || presented.length > 200) return null;
    const rows: { keyId: string; lastUsedAt: Date | null; id: string; email: string; role: 'user' | 'admin' }[] =
      await this.keys.query(
        `SELECT k.id AS "keyId", k.last_used_at AS "lastUsedAt", u.id, u.email, u.role
           FROM api_keys k JOIN users u ON u.id = k.user_id
          WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
            AND u.disabled_at IS NULL`,
        [digestSecret(presented)],
      );
    const row = rows[0];
    if (!row) return null;
    if (!row.lastUsedAt || Date.now() - new Date(row.lastUsedAt).getTime() > LAST_USED_RESOLUTION_MS) {
      await this.keys.update({ id: row.keyId }, { lastUsedAt: new Date() });
    }
    return { id: row.id, email: row.email, role: row.role, via: 'api-key', apiKeyId: row.keyId };
  }
}
