import { Injectable } from '@nestjs/common';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { AuthUser } from '../auth-user.js';
import { addToLogContext } from './log-context.js';

/** Once the guards established the caller, every later log line of the request names them. */
@Injectable()
export class LogContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<{ user?: AuthUser; params?: Record<string, string> }>();
      if (request.user) addToLogContext({ userId: request.user.id });
    }
    return next.handle();
  }
}
