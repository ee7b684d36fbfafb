import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { AuthUser } from '../../common/auth-user.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';

export const ADMIN_SESSION_COOKIE = 'fo_admin_session';
export const ADMIN_SESSION_PATH = '/admin/queues';
export const ADMIN_SESSION_TTL_SECONDS = 15 * 60;

/** What the cookie carries: the admin, the credential it was made with, and when it ends. */
interface AdminSessionClaims {
  sub: string;
  /** The login (refresh-token family) or the API key the cookie was made from. */
  sid?: string;
  kid?: string;
  exp: number;
}

/**
 * A short-lived, signed cookie that lets a browser admin open the queue board (a page a browser
 * navigates to, so it cannot send an Authorization header). It is made by
 * `POST /api/v1/admin/session` from a bearer token or API key, is HttpOnly, SameSite=Strict and
 * scoped to /admin/queues, and on every use the user must still be an enabled admin and the
 * credential it was made from must still be valid.
 */
@Injectable()
export class AdminSessionService {
  private readonly key: Buffer;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    // A key of its own, derived from the JWT secret: a cookie is never a valid access token.
    this.key = createHmac('sha256', config.jwtSecret).update('fileorganizer admin session v1').digest();
  }

  issue(admin: AuthUser, now = Date.now()): { value: string; expiresAt: Date } {
    const exp = Math.floor(now / 1000) + ADMIN_SESSION_TTL_SECONDS;
    const claims: AdminSessionClaims = {
      sub: admin.id,
      exp,
      ...(admin.via === 'jwt' ? { sid: admin.sessionId } : { kid: admin.apiKeyId }),
    };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { value: `${payload}.${this.sign(payload)}`, expiresAt: new Date(exp * 1000) };
  }

  /** The admin a cookie stands for, or null (bad signature, expired, no longer an admin, revoked). */
  async verify(value: string | undefined): Promise<AuthUser | null> {
    if (!value || value.length > 1000) return null;
    const [payload, signature, extra] = value.split('.');
    if (!payload || !signature || extra !== undefined) return null;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    let claims: AdminSessionClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AdminSessionClaims;
    } catch {
      return null;
    }
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) {
      return null;
    }
    const credentialCheck = claims.sid
      ? `EXISTS (SELECT 1 FROM auth_sessions s WHERE s.id = $2 AND s.user_id = u.id AND s.revoked_at IS NULL)`
      : `EXISTS (SELECT 1 FROM api_keys k WHERE k.id = $2 AND k.user_id = u.id AND k.revoked_at IS NULL
                   AND (k.expires_at IS NULL OR k.expires_at > now()))`;
    const credential = claims.sid ?? claims.kid;
    if (typeof credential !== 'string') return null;
    const rows: { id: string; email: string }[] = await this.dataSource
      .query(
        `SELECT u.id, u.email FROM users u
          WHERE u.id = $1 AND u.role = 'admin' AND u.disabled_at IS NULL AND ${credentialCheck}`,
        [claims.sub, credential],
      )
      .catch(() => []);
    const row = rows[0];
    if (!row) return null;
    return claims.sid
      ? { id: row.id, email: row.email, role: 'admin', via: 'jwt', sessionId: claims.sid }
      : { id: row.id, email: row.email, role: 'admin', via: 'api-key', apiKeyId: claims.kid };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}
