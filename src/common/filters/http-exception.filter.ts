import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { DomainError } from '../domain-error.js';
import type { DomainErrorKind } from '../domain-error.js';

/** API.md's error body. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  [extra: string]: unknown;
}

/** Errors raised by body-parser before a route runs carry `type` and `status`. */
interface BodyParserError {
  type?: string;
  status?: number;
}

const BODY_PARSER_MESSAGES: Record<string, [number, string]> = {
  'entity.too.large': [413, 'Request body is too large'],
  'entity.parse.failed': [400, 'Request body is not valid JSON'],
  'entity.verify.failed': [400, 'Request body could not be verified'],
  'encoding.unsupported': [415, 'Unsupported content encoding'],
  'charset.unsupported': [415, 'Unsupported charset'],
  'request.aborted': [400, 'Request aborted'],
  'request.size.invalid': [400, 'Request size did not match content length'],
  'parameters.too.many': [413, 'Too many parameters'],
  'entity.too.deep': [400, 'Request body is nested too deeply'],
};

/** Socket errors: the peer (PostgreSQL, Redis, S3) is not reachable. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
/** PostgreSQL SQLSTATEs that mean "not now" rather than "wrong query" (class 08 is added below). */
const POSTGRES_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '3D000']);
const UNAVAILABLE_MESSAGES = new Set([
  'Connection is closed.',
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
]);

/**
 * True when `exception` says PostgreSQL or Redis cannot be reached right now: the client may
 * retry later, so it answers 503 instead of a 500 that reads like a bug.
 */
export function isDependencyUnavailable(exception: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = exception;
  for (let depth = 0; depth < 4 && current && typeof current === 'object' && !seen.has(current); depth += 1) {
    seen.add(current);
    const { name, code, message } = current as { name?: unknown; code?: unknown; message?: unknown };
    if (name === 'MaxRetriesPerRequestError') return true;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || POSTGRES_UNAVAILABLE.has(code) || /^08/.test(code))) {
      return true;
    }
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.has(message)) return true;
    const next = current as { driverError?: unknown; cause?: unknown };
    current = next.driverError ?? next.cause;
  }
  return false;
}

/** The one mapping of domain errors (storage's PathRejected, PathNotFound...) to HTTP. */
const STATUS_BY_KIND: Record<DomainErrorKind, number> = {
  rejected: HttpStatus.BAD_REQUEST,
  'not-found': HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/**
 * Turns every error into API.md's shape: HTTP exceptions as they are, domain errors by their kind
 * (STATUS_BY_KIND). Unknown errors become a bare 500: their text may hold
 * SQL, stack frames or server paths, so it goes to the log only.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const ctx = host.switchToHttp();
    const response = ctx.getResponse<Response>();
    const request = ctx.getRequest<Request>();
    const body = this.toBody(exception, request);
    if (response.headersSent) return;
    if (typeof body.retryAfter === 'number') response.setHeader('Retry-After', String(body.retryAfter));
    response.status(body.statusCode).json(body);
  }

  toBody(exception: unknown, request?: Request): ErrorBody {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const raw = exception.getResponse();
      if (typeof raw === 'string') return { statusCode: status, error: reasonPhrase(status), message: raw };
      const { statusCode: _ignored, error, message, ...extra } = raw as Record<string, unknown>;
      return {
        ...extra,
        statusCode: status,
        error: typeof error === 'string' ? error : reasonPhrase(status),
        message: Array.isArray(message) || typeof message === 'string' ? message : reasonPhrase(status),
      };
    }
    if (exception instanceof DomainError) {
      const status = STATUS_BY_KIND[exception.kind];
      return { statusCode: status, error: reasonPhrase(status), message: exception.publicMessage };
    }
    const parserType = (exception as BodyParserError | null)?.type;
    if (parserType && BODY_PARSER_MESSAGES[parserType]) {
      const [status, message] = BODY_PARSER_MESSAGES[parserType];
      return { statusCode: status, error: reasonPhrase(status), message };
    }
    const where = `${request?.method ?? ''} ${request?.originalUrl ?? ''}`;
    if (isDependencyUnavailable(exception)) {
      const status = HttpStatus.SERVICE_UNAVAILABLE;
      this.logger.warn(`${where} failed: a dependency is unavailable: ${String(exception)}`);
      return {
        statusCode: status,
        error: reasonPhrase(status),
        message: 'A service this request needs is unavailable; try again later',
      };
    }
    const status = HttpStatus.INTERNAL_SERVER_ERROR;
    this.logger.error(`${where} failed`, exception instanceof Error ? exception.stack : String(exception));
    return { statusCode: status, error: reasonPhrase(status), message: 'Internal server error' };
  }
}
