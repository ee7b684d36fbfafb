import { ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { Request } from 'express';
import type { AuthUser } from '../../common/auth-user.js';
import { IS_PUBLIC } from '../../common/decorators/public.decorator.js';
import { REQUIRED_SCOPE, Scope, scopesOf } from '../../common/decorators/requires-scope.decorator.js';
import { isDependencyUnavailable } from '../../common/filters/http-exception.filter.js';
import { ApiKeysService } from './api-keys.service.js';
import { AuthService } from './auth.service.js';
import { bearerToken } from './jwt.strategy.js';
import { VerifiedTokens } from './verified-tokens.js';

/**
 * The one global guard: `X-API-Key` when present, else the bearer access token (passport-jwt).
 * Routes marked @Public() pass without either; routes marked @RequireScope() need a credential
 * that holds the scope (403 otherwise).
 */
@Injectable()
export class AuthenticationGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
    private readonly auth: AuthService,
    private readonly verified: VerifiedTokens,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<Request & { user?: AuthUser }>();
    const apiKey = request.header('x-api-key');
    if (apiKey !== undefined) {
      const user = await this.apiKeys.authenticate(apiKey, request.ip ?? 'unknown');
      if (!user) throw new UnauthorizedException('Invalid, expired or revoked API key');
      request.user = user;
    } else {
      const token = bearerToken(request);
      const claims = token === null ? undefined : this.verified.claimsOf(token);
      if (claims !== undefined) {
        // Verified here before and not expired: only the login check (as passport's path does next).
        let user: AuthUser | null = null;
        let failure: unknown = null;
        try {
          user = await this.auth.principalFromClaims(claims);
        } catch (error) {
          failure = error;
        }
        request.user = this.handleRequest(failure, user ?? false);
      } else if (!((await super.canActivate(context)) as boolean)) {
        return false;
      }
    }
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (scope !== undefined && request.user && !scopesOf(request.user).includes(scope)) {
      throw new ForbiddenException(
        `This needs the ${scope} scope: an API key cannot manage authentication; use a bearer token from login`,
      );
    }
    return true;
  }

  override handleRequest<TUser = AuthUser>(error: unknown, user: TUser | false): TUser {
    // The session lookup could not reach the database: 503 (retry later), not a 401 that logs the client out.
    if (error && isDependencyUnavailable(error)) throw error;
    if (error || !user) throw new UnauthorizedException('Missing, invalid or expired access token');
    return user;
  }
}
