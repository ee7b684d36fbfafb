import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AuthUser } from '../../common/auth-user.js';
import { AccessTokenClaims, AuthService, hasExpiry } from './auth.service.js';
import { jwtKey } from './jwt-key.js';

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly auth: AuthService,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // passport-jwt's types predate KeyObject; it hands the key to jsonwebtoken, which takes one.
      secretOrKey: jwtKey(config.jwtSecret) as unknown as Buffer,
      // Pinning the algorithm refuses `alg: none` and algorithm-confusion tokens.
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  /** Returning null makes passport answer 401. */
  async validate(claims: Partial<AccessTokenClaims>): Promise<AuthUser | null> {
    if (!hasExpiry(claims)) return null;
    return this.auth.principalFromClaims(claims);
  }
}
