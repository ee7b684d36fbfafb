import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { MetricsService } from './metrics.service.js';

/**
 * The route label: the matched pattern (`/api/v1/operations/:id`), never the raw path, so the
 * number of series stays bounded whatever clients send.
 */
export function routeLabel(request: Request): string {
  const route = (request as Request & { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return `${request.baseUrl}${route.path}`;
  const url = request.originalUrl;
  if (url === '/admin/queues' || url.startsWith('/admin/queues/')) return '/admin/queues';
  return 'unmatched';
}

/** Observes every HTTP request's duration when its response is finished. */
export function httpMetricsMiddleware(metrics: MetricsService): RequestHandler {
  return (request: Request, response: Response, next: NextFunction) => {
    const end = metrics.httpRequestDuration.startTimer();
    response.once('finish', () => {
      end({ method: request.method, route: routeLabel(request), status_code: String(response.statusCode) });
    });
    next();
  };
}
