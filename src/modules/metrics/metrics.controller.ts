import {
  Controller,
  ForbiddenException,
  Get,
  Header,
  Inject,
  Logger,
  NotFoundException,
  OnModuleInit,
  Req,
  Res,
  UnauthorizedException,
} from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Public } from '../../common/decorators/public.decorator.js';
import { ApiErrors } from '../../common/openapi.js';
import { SkipRateLimit } from '../../common/throttling/rate-limit.decorator.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { MetricsService } from './metrics.service.js';

/** Compares digests, so neither the content nor the length of the token leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

@ApiTags('health')
@Public()
@SkipRateLimit()
@Controller('metrics')
export class MetricsController implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** In production without a token the route is closed (fail closed): say so once, at start. */
  private get closed(): boolean {
    return this.config.nodeEnv === 'production' && this.config.metricsToken === undefined;
  }

  onModuleInit(): void {
    if (this.config.metricsEnabled && this.closed) {
      new Logger('Metrics').warn(
        'GET /metrics answers 403: set METRICS_TOKEN to let Prometheus scrape, or METRICS_ENABLED=false',
      );
    }
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics of this process',
    description:
      'Prometheus text format, every name prefixed `fileorganizer_`. With METRICS_TOKEN set it needs `Authorization: Bearer <METRICS_TOKEN>`; without one it is open, except with NODE_ENV=production, where it answers 403. METRICS_ENABLED=false: 404. Each API and worker process answers for itself.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Prometheus text exposition format',
    content: {
      'text/plain': {
        schema: { type: 'string' },
        example:
          '# HELP fileorganizer_operation_jobs_total Operation job runs in this process, by operation type and the status they left\n' +
          '# TYPE fileorganizer_operation_jobs_total counter\n' +
          'fileorganizer_operation_jobs_total{type="organize",status="completed"} 42\n',
      },
    },
  })
  @ApiErrors(
    [401, 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>'],
    [403, 'GET /metrics is closed in production until the server sets METRICS_TOKEN'],
    [404, 'Cannot GET /metrics'],
  )
  async scrape(@Req() request: Request, @Res() response: Response): Promise<void> {
    if (!this.config.metricsEnabled) throw new NotFoundException('Cannot GET /metrics');
    if (this.closed) {
      throw new ForbiddenException('GET /metrics is closed in production until the server sets METRICS_TOKEN');
    }
    const token = this.config.metricsToken;
    if (token !== undefined) {
      const authorization = request.header('authorization') ?? '';
      if (!authorization.startsWith('Bearer ') || !sameSecret(authorization.slice(7).trim(), token)) {
        throw new UnauthorizedException('GET /metrics needs Authorization: Bearer <METRICS_TOKEN>');
      }
    }
    const { contentType, body } = await this.metrics.render();
    response.setHeader('Content-Type', contentType);
    response.send(body);
  }
}
