import type { Request, RequestHandler, Response } from 'express';
import type { Level, Logger } from 'pino';
import type { AuthUser } from '../auth-user.js';
import { runWithLogContext } from './log-context.js';
import { redactUrl } from './logger.js';

/** A bug (500) is an error; a dependency that is down (503) a warning; client errors are routine. */
function levelOf(statusCode: number, error: unknown): Level {
  return error || statusCode === 500 ? 'error' : statusCode > 500 ? 'warn' : 'info';
}

const OPERATION_ROUTE = /\/operations\/:id/;

/**
 * One JSON line per finished request (method, route, status, time, request id, user id, operation
 * id), and the request id on every line logged while it runs (through the log context; the
 * authentication interceptor adds the user id). Bodies, tokens, keys and cookies are never logged.
 *
 * The line has the fields and field order pino-http wrote (src/common/logging/http-logger.spec.ts
 * pins them), without its per-request cost: pino-http made two or three child loggers per request
 * (each serializing its bindings) whether or not the line was then written.
 */
export function httpLogger(root: Logger): RequestHandler {
  return (request, response, next) => {
    const id = (request as { id?: unknown }).id;
    const requestId = id === undefined ? undefined : String(id);
    if (request.url !== '/health/live') {
      const started = Date.now();
      let done = false;
      const onEnd = (error?: unknown): void => {
        if (done) return;
        done = true;
        response.removeListener('finish', onEnd);
        response.removeListener('close', onEnd);
        response.removeListener('error', onEnd);
        logLine(root, request, response, requestId, started, error);
      };
      response.on('close', onEnd);
      response.on('finish', onEnd);
      response.on('error', onEnd);
    }
    runWithLogContext({ requestId }, next);
  };
}

function logLine(
  root: Logger,
  request: Request,
  response: Response,
  requestId: string | undefined,
  started: number,
  error: unknown,
): void {
  const statusCode = response.statusCode;
  const level = levelOf(statusCode, error);
  if (!root.isLevelEnabled(level)) return;
  const durationMs = Date.now() - started;
  const url = redactUrl(request.originalUrl ?? request.url);
  const entry: Record<string, unknown> = {
    requestId,
    req: {
      method: request.method,
      url,
      userAgent: request.headers['user-agent'],
      remoteAddress: request.socket?.remoteAddress,
    },
  };
  const user = (request as { user?: AuthUser }).user;
  if (user?.id) entry.userId = user.id;
  const params = (request as { params?: Record<string, string> }).params;
  if (params?.id && OPERATION_ROUTE.test(String((request as { route?: { path?: string } }).route?.path ?? ''))) {
    entry.operationId = params.id;
  }
  entry.res = { statusCode };
  // A 5xx without an error object is logged without one (the exception filter logged the real one).
  if (error) entry.err = error;
  entry.durationMs = durationMs;
  root[level](entry, `${request.method} ${url} ${statusCode}`);
}
