import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';

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
};

function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/**
 * Turns every error into API.md's shape. Unknown errors become a bare 500: their text may hold
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
    const parserType = (exception as BodyParserError | null)?.type;
    if (parserType && BODY_PARSER_MESSAGES[parserType]) {
      const [status, message] = BODY_PARSER_MESSAGES[parserType];
      return { statusCode: status, error: reasonPhrase(status), message };
    }
    const status = HttpStatus.INTERNAL_SERVER_ERROR;
    this.logger.error(
      `${request?.method ?? ''} ${request?.originalUrl ?? ''} failed`,
      exception instanceof Error ? exception.stack : String(exception),
    );
    return { statusCode: status, error: reasonPhrase(status), message: 'Internal server error' };
  }
}
