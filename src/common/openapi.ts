import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';
import type { ErrorBody } from './filters/http-exception.filter.js';

/** API.md's error body (what HttpExceptionFilter answers), for the OpenAPI document. */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ example: 'Bad Request' }) error!: string;
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['email must be a valid email address'],
  })
  message!: string | string[];

  @ApiPropertyOptional({
    example: 30,
    description: 'With 429 (and a busy 503): seconds to wait, also sent as the Retry-After header',
  })
  retryAfter?: number;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (validation errors are listed in `message`)',
  401: 'Missing or invalid credentials',
  403: 'Not allowed for this role',
  404: "Not found (also for another user's resource)",
  409: 'Conflicts with the current state',
  413: 'Request body larger than 1 MB',
  415: 'The request has a body that is not JSON: send `Content-Type: application/json`',
  429: 'Rate limited; see the Retry-After header',
  503: 'A dependency (database or Redis) is unavailable',
};

/**
 * The `message` each status shows in Swagger UI unless the route names its own: the texts the
 * service really sends (guards, pipes, body-parser, the JSON-only middleware, the rate limiter).
 */
const DEFAULT_MESSAGES: Record<number, string | string[]> = {
  400: ['property unknownField should not exist'],
  401: 'Missing, invalid or expired access token',
  403: 'This route is for administrators',
  404: 'Not Found',
  409: 'Conflicts with the current state',
  413: 'Request body is too large',
  415: 'Request bodies must be JSON: send Content-Type: application/json (got "application/x-www-form-urlencoded")',
  429: 'Rate limit of 10 requests per 60 s exceeded; retry in 30 s',
  503: 'A service this request needs is unavailable; try again later',
};

/** The 400 a malformed `:id` gets from ParseUUIDPipe. */
export const INVALID_ID_MESSAGE = 'Validation failed (uuid is expected)';

/** The body HttpExceptionFilter sends for `status` with `message` (429 also carries retryAfter). */
export function errorExample(
  status: number,
  message: string | string[] = DEFAULT_MESSAGES[status] ?? 'Error',
): ErrorBody {
  const body: ErrorBody = { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message };
  if (status === 429) body.retryAfter = 30;
  return body;
}

/** The response object of one error status, with its example (also used for answers added after the scan). */
export function errorResponse(status: number, message?: string | string[]) {
  return {
    description: DESCRIPTIONS[status] ?? 'Error',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(ErrorResponseDto) }, example: errorExample(status, message) },
    },
  };
}

/**
 * Documents the error answers a route can give, each with an example of its own. A status alone
 * shows the usual message; `[status, message]` shows the route's own (e.g. `[404, 'Operation not found']`).
 * The content is spelled out so that a route that produces text (GET /metrics) still documents its
 * errors as the JSON they are.
 */
export function ApiErrors(...statuses: (number | [number, string | string[]])[]) {
  return applyDecorators(
    ApiExtraModels(ErrorResponseDto),
    ...statuses.map((entry) => {
      const [status, message] = typeof entry === 'number' ? [entry, undefined] : entry;
      return ApiResponse({ status, ...errorResponse(status, message) });
    }),
  );
}
