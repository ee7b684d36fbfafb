import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AuthUser } from '../../common/auth-user.js';
import { AccessTokenClaims, AuthService, hasExpiry } from './auth.service.js';
import { jwtKey } from './jwt-key.js';
import { VerifiedTokens } from './verified-tokens.js';

/** Where an access token comes from: `Authorization: Bearer <token>` (passport-jwt's parsing). */
export const bearerToken: (request: Request) => string | null = ExtractJwt.fromAuthHeaderAsBearerToken();

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly auth: AuthService,
    private readonly verified: VerifiedTokens,
  ) {
    super({
      jwtFromRequest: bearerToken,
      passReqToCallback: true,
      // passport-jwt's types predate KeyObject; it hands the key to jsonwebtoken, which takes one.
      secretOrKey: jwtKey(config.jwtSecret) as unknown as Buffer,
      // Pinning the algorithm refuses `alg: none` and algorithm-confusion tokens.
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  /**
   * Called once passport-jwt has verified the token (signature, HS256, expiry). Returning null
   * makes passport answer 401. The token is remembered as verified (AuthenticationGuard then skips
   * passport for its next requests, see VerifiedTokens).
   */
  async validate(request: Request, claims: Partial<AccessTokenClaims>): Promise<AuthUser | null> {
    if (!hasExpiry(claims)) return null;
    const token = bearerToken(request);
    if (token !== null) this.verified.remember(token, claims as Partial<AccessTokenClaims> & { exp: number });
    return this.auth.principalFromClaims(claims);
  }
}
