import { Controller, Get, Header, Inject, Req, Res, UnauthorizedException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { Public } from '../../common/decorators/public.decorator.js';
import { ApiErrors } from '../../common/openapi.js';
import { SkipRateLimit } from '../../common/throttling/rate-limit.decorator.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { MetricsService } from './metrics.service.js';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

@ApiTags('health')
@Public()
@SkipRateLimit()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics of this process',
    description:
      'Prometheus text format, every name prefixed `fileorganizer_`. Open unless the server sets METRICS_TOKEN; then it needs `Authorization: Bearer <METRICS_TOKEN>`. Each API and worker process answers for itself.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format', schema: { type: 'string' } })
  @ApiErrors(401)
  async scrape(@Req() request: Request, @Res() response: Response): Promise<void> {
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
