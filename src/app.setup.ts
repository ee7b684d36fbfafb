import { INestApplication } from '@nestjs/common';
import type { NestExpressApplication, NestExpressBodyParserOptionsFor } from '@nestjs/platform-express';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import compression from 'compression';
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { AppConfig } from './config/app-config.js';
import { serveConsole } from './console/console.js';
import { completeOpenApiExamples, HTTP_METHODS } from './common/openapi-examples.js';
import { HttpExceptionFilter } from './common/filters/http-exception.filter.js';
import { AppLogger } from './common/logging/app-logger.js';
import { httpLogger } from './common/logging/http-logger.js';
import { ROOT_LOGGER } from './common/logging/logging.module.js';
import { CategoryTotalsDto } from './modules/operations/dto/operation-response.dto.js';
import { httpTracingMiddleware } from './tracing/http-tracing.middleware.js';
import { jsonBodiesOnly } from './common/middleware/json-bodies-only.middleware.js';
import { requestIdMiddleware } from './common/middleware/request-id.middleware.js';
import { StrictValidationPipe } from './common/pipes/strict-validation.pipe.js';
import { RedisIoAdapter } from './modules/progress/redis-io.adapter.js';
import { httpMetricsMiddleware } from './modules/metrics/http-metrics.middleware.js';
import { MetricsService } from './modules/metrics/metrics.service.js';

export const JSON_BODY_LIMIT = '1mb';
/** No request body of this API nests deeper; validation recurses, so a deeper one must not reach it. */
export const MAX_JSON_DEPTH = 32;

/**
 * body-parser's `verify` hook, before JSON.parse: counts the nesting of objects and arrays outside
 * strings in one pass over the raw bytes, and refuses a body deeper than MAX_JSON_DEPTH (400).
 */
export function refuseDeepJson(_request: unknown, _response: unknown, raw: Buffer): void {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (const byte of raw) {
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === 0x5c) escaped = true;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      depth += 1;
      if (depth > MAX_JSON_DEPTH) {
        throw Object.assign(new Error('Request body is nested too deeply'), { status: 400, type: 'entity.too.deep' });
      }
    } else if (byte === 0x7d || byte === 0x5d) {
      depth -= 1;
    }
  }
}

/**
 * Helmet's headers. `upgrade-insecure-requests` only for a request that came over HTTPS: sent over
 * plain HTTP (a LAN address, a compose service name) it makes the browser fetch the page's scripts
 * and styles over https, which nothing serves there, and the console and Swagger UI load blank.
 */
export function securityHeaders(): RequestHandler {
  const directives = {
    // Swagger UI and the console use inline styles; scripts stay same-origin only.
    'style-src': ["'self'", "'unsafe-inline'"],
    'img-src': ["'self'", 'data:'],
    'connect-src': ["'self'", 'ws:', 'wss:'],
  };
  const overHttps = helmet({ contentSecurityPolicy: { directives } });
  const overHttp = helmet({
    contentSecurityPolicy: { directives: { ...directives, 'upgrade-insecure-requests': null } },
  });
  return (request, response, next) => (request.secure ? overHttps : overHttp)(request, response, next);
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('FileOrganizer API')
    .setDescription(
      'Scans a folder on local disk or S3, sorts every file into a category, finds duplicates, moves files ' +
        'into place and undoes all of it. Errors answer `{ statusCode, error, message }`.',
    )
    .setVersion('1.0.0')
    .addServer('/', 'The server that serves this document')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'apiKey')
    .build();
  config.info.license = { name: 'UNLICENSED' };
  const document = SwaggerModule.createDocument(app, config, { extraModels: [CategoryTotalsDto] });
  // An operation without a security requirement is open (signup, login, health...): say so explicitly.
  for (const item of Object.values(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation && operation.security === undefined) operation.security = [];
    }
  }
  completeOpenApiExamples(document);
  return document;
}

/** Everything main.ts and the e2e tests both apply to the HTTP application. */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  app.useLogger(app.get(AppLogger));
  app.use(requestIdMiddleware);
  app.use(httpTracingMiddleware);
  app.use(httpLogger(app.get(ROOT_LOGGER)));
  app.use(httpMetricsMiddleware(app.get(MetricsService)));
  // req.ip and req.secure believe X-Forwarded-For/-Proto only from the proxies TRUST_PROXY names.
  app.set('trust proxy', config.trustProxy);
  app.use(securityHeaders());
  app.use(compression());
  app.enableCors({ origin: config.corsOrigins, exposedHeaders: ['X-Request-Id', 'Retry-After'] });
  // API routes take JSON only (415 otherwise); the queue board's own router is not the API.
  app.use('/api', jsonBodiesOnly);
  // Nest's type leaves `verify` out (it uses it for rawBody, which is off here); express passes it on.
  app.useBodyParser('json', {
    limit: JSON_BODY_LIMIT,
    verify: refuseDeepJson,
  } as NestExpressBodyParserOptionsFor<'json'>);
  app.useGlobalPipes(
    new StrictValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      stopAtFirstError: false,
    }),
  );
  app.useGlobalFilters(new HttpExceptionFilter());
  app.enableShutdownHooks();
  // A worker serves /health only: no sockets, no docs, no console.
  if (config.appRole === 'worker') return;
  serveConsole(app);
  app.useWebSocketAdapter(new RedisIoAdapter(app, config));

  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
