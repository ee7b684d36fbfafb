import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleInit, UnauthorizedException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull, Repository } from 'typeorm';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AuthUser } from '../../common/auth-user.js';
import { StorageService } from '../storage/storage.service.js';
import { User } from '../users/user.entity.js';
import { normalizeEmail, toUserView, UsersService, UserView } from '../users/users.service.js';
import { AuthSession } from './auth-session.entity.js';
import { LoginAttemptsService } from './login-attempts.service.js';
import { PasswordHasher } from './password-hasher.js';
import { PrincipalCache } from './principal-cache.js';
import { RefreshToken } from './refresh-token.entity.js';
import { digestSecret, randomSecret } from './secret-token.js';
import { isDependencyUnavailable } from '../../common/filters/http-exception.filter.js';

export interface AuthTokens {
  user: UserView;
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

/** Claims of an access token. `sid` is the login (refresh-token family) it belongs to. */
export interface AccessTokenClaims {
  sub: string;
  sid: string;
  role: string;
}

/** The JWT library checks exp only when it is present: a signed token without one would never expire. */
export function hasExpiry(claims: object): boolean {
  return typeof (claims as { exp?: unknown }).exp === 'number';
}

const INVALID_CREDENTIALS = 'Invalid email or password';
const logger = new Logger('Auth');
const INVALID_REFRESH = 'Invalid or expired refresh token';

@Injectable()
export class AuthService implements OnModuleInit {
  private readonly hasher: PasswordHasher;

  constructor(
    private readonly users: UsersService,
    private readonly jwt: JwtService,
    private readonly loginAttempts: LoginAttemptsService,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
    private readonly principals: PrincipalCache,
  ) {
    this.hasher = new PasswordHasher({
      concurrency: config.throttles.argon2Concurrency,
      queueSize: config.throttles.argon2QueueSize,
    });
  }

  /** Prepares the dummy hash that unknown emails are verified against (see login). */
  async onModuleInit(): Promise<void> {
    await this.hasher.prepare();
  }

  async signup(input: { email: string; password: string; name?: string }): Promise<AuthTokens> {
    const passwordHash = await this.hasher.hash(input.password);
    const user = await this.users.create({ email: input.email, name: input.name, passwordHash });
    // The new user's folder is there to put files in at once. The account exists by now: a disk
    // that refuses is logged, not the signup's failure (the folder is made again on first use).
    await this.storage.ensureLocalFolder(user.id).catch((error: unknown) => {
      logger.warn(`could not create the folder of user ${user.id}: ${(error as Error).message}`);
    });
    return this.startSession(user);
  }

  /** `clientIp` is the request's address (req.ip): failures are counted per account and address. */
  async login(input: { email: string; password: string }, clientIp: string): Promise<AuthTokens> {
    const email = normalizeEmail(input.email);
    await this.loginAttempts.begin(email, clientIp);
    const user = await this.users.findByEmail(email);
    const valid = user
      ? await this.hasher.verify(user.passwordHash, input.password)
      : await this.hasher.verifyNothing(input.password);
    // The attempt was counted by begin(); only a success clears the count.
    if (!user || !valid || user.disabledAt) throw new UnauthorizedException(INVALID_CREDENTIALS);
    await this.loginAttempts.succeeded(email, clientIp);
    return this.startSession(user);
  }

  /** Spends `refreshToken` and answers a new pair; a spent token revokes its whole login. */
  async refresh(refreshToken: string): Promise<AuthTokens> {
    const tokenHash = digestSecret(refreshToken);
    const outcome = await this.dataSource.transaction(async (manager) => {
      const spent: RefreshToken[] = await manager
        .query(
          `UPDATE refresh_tokens SET spent_at = now()
          WHERE token_hash = $1 AND spent_at IS NULL
          RETURNING id, session_id AS "sessionId", user_id AS "userId", expires_at AS "expiresAt"`,
          [tokenHash],
        )
        .then((result: [RefreshToken[], number]) => result[0]);
      if (spent.length === 0) {
        const known = await manager.findOneBy(RefreshToken, { tokenHash });
        if (known) {
          await manager.update(
            AuthSession,
            { id: known.sessionId, revokedAt: IsNull() },
            { revokedAt: new Date(), revokedReason: 'refresh_reuse' },
          );
        }
        return { revokedUserId: known?.userId ?? null } as const;
      }
      const token = spent[0];
      const session = await manager.findOneBy(AuthSession, { id: token.sessionId });
      const user = await manager.findOneBy(User, { id: token.userId });
      if (!session || session.revokedAt || !user || user.disabledAt || new Date(token.expiresAt) <= new Date()) {
        return null;
      }
      const next = await this.issueRefreshToken(manager.getRepository(RefreshToken), user.id, session.id);
      return { user, sessionId: session.id, refreshToken: next };
    });
    if (!outcome) throw new UnauthorizedException(INVALID_REFRESH);
    if ('revokedUserId' in outcome) {
      // A spent token came back: its whole login was revoked above (committed by now).
      if (outcome.revokedUserId) await this.principals.revoked(outcome.revokedUserId);
      throw new UnauthorizedException(INVALID_REFRESH);
    }
    return this.tokensFor(outcome.user, outcome.sessionId, outcome.refreshToken);
  }

  /** Revokes the login that `refreshToken` belongs to, when it is the caller's. */
  async logout(caller: AuthUser, refreshToken: string): Promise<void> {
    const token = await this.dataSource
      .getRepository(RefreshToken)
      .findOneBy({ tokenHash: digestSecret(refreshToken), userId: caller.id });
    if (!token) return;
    await this.dataSource
      .getRepository(AuthSession)
      .update({ id: token.sessionId, revokedAt: IsNull() }, { revokedAt: new Date(), revokedReason: 'logout' });
    await this.principals.revoked(caller.id);
  }

  async me(caller: AuthUser): Promise<UserView> {
    const user = await this.users.findById(caller.id);
    if (!user) throw new UnauthorizedException();
    return toUserView(user);
  }

  /** Verifies an access token's signature and expiry, then its login and user (sockets use this). */
  async verifyAccessToken(token: string): Promise<AuthUser | null> {
    let claims: AccessTokenClaims;
    try {
      claims = await this.jwt.verifyAsync<AccessTokenClaims>(token, { algorithms: ['HS256'] });
    } catch {
      return null;
    }
    if (!hasExpiry(claims)) return null;
    return this.principalFromClaims(claims);
  }

  /**
   * An access token stays valid only while its user is enabled and its login not revoked (checked
   * in the database, or reused from a check of the last few seconds: see PrincipalCache). `fresh`:
   * always the database (the sockets' periodic re-check, which catches what bypassed the service).
   */
  async principalFromClaims(
    claims: Partial<AccessTokenClaims>,
    options: { fresh?: boolean } = {},
  ): Promise<AuthUser | null> {
    const { sub, sid } = claims;
    if (typeof sub !== 'string' || typeof sid !== 'string') return null;
    if (options.fresh) return this.loadPrincipal(sub, sid);
    return this.principals.principal(sub, sid, () => this.loadPrincipal(sub, sid));
  }

  private async loadPrincipal(sub: string, sid: string): Promise<AuthUser | null> {
    const rows: { id: string; email: string; role: 'user' | 'admin' }[] = await this.dataSource
      .query(
        `SELECT u.id, u.email, u.role FROM users u JOIN auth_sessions s ON s.user_id = u.id
        WHERE u.id = $1 AND s.id = $2 AND u.disabled_at IS NULL AND s.revoked_at IS NULL`,
        [sub, sid],
      )
      // A malformed id is no login (401); a database that does not answer is not the token's fault (503).
      .catch((error: unknown) => {
        if (isDependencyUnavailable(error)) throw error;
        return [];
      });
    const row = rows[0];
    if (!row) return null;
    return { id: row.id, email: row.email, role: row.role, via: 'jwt', sessionId: sid };
  }

  private async startSession(user: User): Promise<AuthTokens> {
    return this.dataSource.transaction(async (manager) => {
      const session = await manager.save(manager.create(AuthSession, { userId: user.id }));
      const refreshToken = await this.issueRefreshToken(manager.getRepository(RefreshToken), user.id, session.id);
      return this.tokensFor(user, session.id, refreshToken);
    });
  }

  private async issueRefreshToken(
    repository: Repository<RefreshToken>,
    userId: string,
    sessionId: string,
  ): Promise<string> {
    const secret = randomSecret();
    await repository.insert({
      userId,
      sessionId,
      tokenHash: digestSecret(secret),
      expiresAt: new Date(Date.now() + this.config.jwtRefreshTtlSeconds * 1000),
    });
    return secret;
  }

  private async tokensFor(user: User, sessionId: string, refreshToken: string): Promise<AuthTokens> {
    const claims: AccessTokenClaims = { sub: user.id, sid: sessionId, role: user.role };
    const accessToken = await this.jwt.signAsync(claims, {
      algorithm: 'HS256',
      expiresIn: this.config.jwtAccessTtlSeconds,
      // Without an id, two tokens of one login issued within the same second would be identical.
      jwtid: randomUUID(),
    });
    return {
      user: toUserView(user),
      accessToken,
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: this.config.jwtAccessTtlSeconds,
    };
  }
}
