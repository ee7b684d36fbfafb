import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { AuthUser } from '../auth-user.js';
import { runWithLogContext } from './log-context.js';
import { redactUrl } from './logger.js';

/**
 * One JSON line per finished request (method, route, status, time, request id, user id, operation
 * id), and the request id and user id on every line logged while it runs. Bodies, tokens, keys and
 * cookies are never logged.
 */
export function httpLogger(root: Logger): RequestHandler {
  const logRequests = pinoHttp<Request, Response>({
    logger: root,
    genReqId: (request) => request.id ?? '',
    customAttributeKeys: { reqId: 'requestId', responseTime: 'durationMs' },
    quietReqLogger: true,
    // A bug (500) is an error; a dependency that is down (503) a warning; client errors are routine.
    customLogLevel: (_request, response, error) =>
      error || response.statusCode === 500 ? 'error' : response.statusCode > 500 ? 'warn' : 'info',
    // pino-http invents an Error ("failed with status code 503") with its own useless stack for
    // every 5xx; the exception filter already logged the real one.
    customErrorObject: (_request, _response, error, value: Record<string, unknown>) =>
      error.message.startsWith('failed with status code') ? { ...value, err: undefined } : value,
    customSuccessMessage: (request, response) =>
      `${request.method} ${redactUrl(request.originalUrl)} ${response.statusCode}`,
    customErrorMessage: (request, response) =>
      `${request.method} ${redactUrl(request.originalUrl)} ${response.statusCode}`,
    customProps: (request) => {
      const props: Record<string, string> = {};
      const user = (request as { user?: AuthUser }).user;
      if (user?.id) props.userId = user.id;
      const params = (request as { params?: Record<string, string> }).params;
      if (
        params?.id &&
        /\/operations\/:id/.test(String((request as { route?: { path?: string } }).route?.path ?? ''))
      ) {
        props.operationId = params.id;
      }
      return props;
    },
    serializers: {
      req: (request: { method: string; url: string; headers: Record<string, unknown>; remoteAddress?: string }) => ({
        method: request.method,
        url: redactUrl(request.url),
        userAgent: request.headers['user-agent'],
        remoteAddress: request.remoteAddress,
      }),
      res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
    },
    autoLogging: { ignore: (request) => request.url === '/health/live' },
  });
  return (request, response, next) => {
    runWithLogContext({ requestId: request.id === undefined ? undefined : String(request.id) }, () =>
      logRequests(request, response, next),
    );
  };
}
