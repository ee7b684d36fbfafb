import { Controller, Get, HttpStatus, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { Public } from '../../common/decorators/public.decorator.js';
import { SkipRateLimit } from '../../common/throttling/rate-limit.decorator.js';
import { REDIS_CLIENT } from '../../redis/redis.module.js';
import { StorageService } from '../storage/storage.service.js';

const CHECK_TIMEOUT_MS = 1500;

@ApiTags('health')
@Public()
@SkipRateLimit()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly storage: StorageService,
  ) {}

  @Get()
  @ApiOkResponse({ description: 'PostgreSQL and Redis answer (and the S3 bucket, when S3 is configured)' })
  @ApiServiceUnavailableResponse({
    description: 'PostgreSQL, Redis or the configured S3 bucket does not answer; `details` says which',
  })
  async check(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.database.pingCheck('database').withTimeout(CHECK_TIMEOUT_MS),
        () =>
          this.indicators
            .check('redis')
            .attempt(async () => {
              if ((await this.redis.ping()) !== 'PONG') throw new Error('unexpected PING reply');
              return {};
            })
            .withTimeout(CHECK_TIMEOUT_MS),
        ...(this.storage.s3Configured
          ? [
              () =>
                this.indicators
                  .check('s3')
                  .attempt(async ({ signal }) => {
                    await this.storage.checkS3(signal);
                    return {};
                  })
                  .withTimeout(CHECK_TIMEOUT_MS),
            ]
          : []),
      ]);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        const result = error.getResponse() as HealthCheckResult;
        const down = Object.keys(result.error ?? {});
        throw new ServiceUnavailableException({
          statusCode: HttpStatus.SERVICE_UNAVAILABLE,
          error: 'Service Unavailable',
          message: `Unavailable: ${down.join(', ')}`,
          status: 'error',
          details: result.details,
        });
      }
      throw error;
    }
  }

  @Get('live')
  @ApiOkResponse({ description: 'The process runs' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
