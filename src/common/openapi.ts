import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';

/** API.md's error body, for the OpenAPI document. */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ example: 'Bad Request' }) error!: string;
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['email must be a valid email address'],
  })
  message!: string | string[];
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (validation errors are listed in `message`)',
  401: 'Missing or invalid credentials',
  403: 'Not allowed for this role',
  404: "Not found (also for another user's resource)",
  409: 'Conflicts with the current state',
  413: 'Request body larger than 1 MB',
  429: 'Rate limited; see the Retry-After header',
  503: 'A dependency (database or Redis) is unavailable',
};

/** Documents the error answers a route can give, all with the same body. */
export function ApiErrors(...statuses: number[]) {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status] ?? 'Error', type: ErrorResponseDto }),
    ),
  );
}
