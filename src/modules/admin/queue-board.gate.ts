import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { AuthUser } from '../../common/auth-user.js';
import { ApiKeysService } from '../auth/api-keys.service.js';
import { AuthService } from '../auth/auth.service.js';
import { ADMIN_SESSION_COOKIE, AdminSessionService, readCookie } from './admin-session.service.js';

function sendError(response: Response, statusCode: 401 | 403, message: string): void {
  response.status(statusCode).json({ statusCode, error: statusCode === 401 ? 'Unauthorized' : 'Forbidden', message });
}

/**
 * Lets only enabled admins through to the queue board: a bearer token or API key (scripts, curl)
 * or the admin session cookie (browsers). Answers 401 without a valid credential, 403 for a user
 * who is not an admin, like the API's admin routes.
 */
@Injectable()
export class QueueBoardGate {
  constructor(
    private readonly auth: AuthService,
    private readonly apiKeys: ApiKeysService,
    private readonly sessions: AdminSessionService,
  ) {}

  readonly middleware = (request: Request, response: Response, next: NextFunction): void => {
    this.caller(request).then(
      (user) => {
        if (!user) {
          // A browser without the cookie is sent to the console, where an admin opens the board.
          if (request.method === 'GET' && request.accepts(['json', 'html']) === 'html') {
            response.redirect(302, '/?next=queues');
            return;
          }
          sendError(response, 401, 'Sign in as an admin: bearer token, X-API-Key, or the admin session cookie');
          return;
        }
        if (user.role !== 'admin') {
          sendError(response, 403, 'This page is for administrators');
          return;
        }
        (request as Request & { user?: AuthUser }).user = user;
        next();
      },
      (error: unknown) => {
        // Too many failed API keys from this address: the API's 429, with Retry-After.
        if (error instanceof HttpException && error.getStatus() === HttpStatus.TOO_MANY_REQUESTS) {
          const body = error.getResponse() as { retryAfter?: number };
          if (typeof body.retryAfter === 'number') response.setHeader('Retry-After', String(body.retryAfter));
          response.status(error.getStatus()).json(body);
          return;
        }
        next(error);
      },
    );
  };

  private async caller(request: Request): Promise<AuthUser | null> {
    const apiKey = request.header('x-api-key');
    if (apiKey !== undefined) return this.apiKeys.authenticate(apiKey, request.ip ?? 'unknown');
    const authorization = request.header('authorization');
    if (authorization?.startsWith('Bearer ')) return this.auth.verifyAccessToken(authorization.slice(7).trim());
    return this.sessions.verify(readCookie(request.header('cookie'), ADMIN_SESSION_COOKIE));
  }
}
