import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { currentLogContext } from './log-context.js';

/**
 * Paths pino replaces with "[redacted]" wherever they appear in a logged object. Request bodies
 * are never logged; these catch headers, and secrets inside objects someone logs by mistake.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  'password',
  'passwordHash',
  'refreshToken',
  'accessToken',
  'token',
  'apiKey',
  'key',
  'jwtSecret',
  'secretAccessKey',
  '*.password',
  '*.passwordHash',
  '*.refreshToken',
  '*.accessToken',
  '*.token',
  '*.apiKey',
  '*.key',
  '*.jwtSecret',
  '*.secretAccessKey',
  '*.metricsToken',
];

/** Query parameters whose values never reach a log line. */
const SECRET_QUERY_KEY = /token|key|password|secret|auth|session|signature|code/i;

/** The URL as logged: query values of secret-looking parameters replaced. */
export function redactUrl(url: string): string {
  const index = url.indexOf('?');
  if (index < 0) return url;
  const params = new URLSearchParams(url.slice(index + 1));
  for (const name of [...params.keys()]) if (SECRET_QUERY_KEY.test(name)) params.set(name, '[redacted]');
  return `${url.slice(0, index)}?${params.toString()}`;
}

export interface RootLoggerOptions {
  level: string;
  role: string;
  destination: DestinationStream;
}

/** The process's one pino logger: JSON lines, request/user/operation ids mixed in from the context. */
export function createRootLogger(options: RootLoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'fileorganizer', role: options.role, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      messageKey: 'msg',
      mixin(merge, _level, logger) {
        const context = currentLogContext();
        if (!context) return {};
        // A field the line or its logger already carries (the access log's requestId) keeps its own.
        const bound = (logger as Logger).bindings();
        const fields: Record<string, string> = {};
        for (const [name, value] of Object.entries(context)) {
          if (value !== undefined && !(name in bound) && !(name in merge)) fields[name] = value;
        }
        return fields;
      },
    },
    options.destination,
  );
}
