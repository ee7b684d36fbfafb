import { Controller, Get, HttpStatus, Inject, Logger, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
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
import { HealthDto, HealthUnavailableDto, LiveDto } from './health.dto.js';

const CHECK_TIMEOUT_MS = 1500;

@ApiTags('health')
@Public()
@SkipRateLimit()
@Controller('health')
export class HealthController {
  private readonly logger = new Logger('Health');

  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly storage: StorageService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Readiness: PostgreSQL and Redis answer (and the S3 bucket, when configured)' })
  @ApiOkResponse({ type: HealthDto, description: 'PostgreSQL and Redis answer (and the S3 bucket, when configured)' })
  @ApiServiceUnavailableResponse({
    type: HealthUnavailableDto,
    description: 'PostgreSQL, Redis or the configured S3 bucket does not answer; `message` and `details` say which',
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
        // The indicators' messages are driver errors (host names, database names): log them only.
        this.logger.warn(`unavailable: ${JSON.stringify(result.error ?? {})}`);
        const details: Record<string, { status: string }> = {};
        for (const [name, detail] of Object.entries(result.details)) details[name] = { status: detail.status };
        throw new ServiceUnavailableException({
          statusCode: HttpStatus.SERVICE_UNAVAILABLE,
          error: 'Service Unavailable',
          message: `Unavailable: ${down.join(', ')}`,
          status: 'error',
          details,
        });
      }
      throw error;
    }
  }

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process runs' })
  @ApiOkResponse({ type: LiveDto, description: 'The process runs' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
