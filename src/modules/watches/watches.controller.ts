import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { AuthUser } from '../../common/auth-user.js';
import { CurrentUser } from '../../common/decorators/current-user.decorator.js';
import { PaginationQueryDto } from '../../common/dto/pagination.dto.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { ApiErrors, INVALID_ID_MESSAGE } from '../../common/openapi.js';
import { CreateWatchDto, UpdateWatchDto, WatchDto, WatchPageDto } from './dto/watch.dto.js';
import { WatchesService } from './watches.service.js';
import type { WatchView } from './watches.store.js';

@ApiTags('watches')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/watches')
export class WatchesController {
  constructor(private readonly watches: WatchesService) {}

  @Post()
  @ApiOperation({
    summary: 'Watch a folder',
    description:
      'A change in a local folder (after `debounceMs` of quiet) and each tick of `schedule` start an ordinary ' +
      'organize operation (`watchId`, `trigger`), journaled and rollback-able like any other. ' +
      'At most MAX_WATCHES_PER_USER watches per user (409 beyond).',
  })
  @ApiCreatedResponse({ type: WatchDto })
  @ApiErrors(
    [
      400,
      [
        'rootPath must not contain a ".." segment',
        'debounceMs must not be less than 500',
        'schedule must be a cron expression of five fields (minute hour day month weekday), at most once a minute',
      ],
    ],
    401,
    [409, 'You have 20 watches, the most allowed is 20; delete one first'],
    [503, 'The job queue (Redis) is unavailable; try again shortly'],
  )
  create(@CurrentUser() user: AuthUser, @Body() body: CreateWatchDto): Promise<WatchView> {
    return this.watches.create(user, body);
  }

  @Get()
  @ApiOperation({ summary: 'List your watches, newest first' })
  @ApiOkResponse({ type: WatchPageDto })
  @ApiErrors([400, ['limit must not be greater than 200']], 401)
  list(@CurrentUser() user: AuthUser, @Query() query: PaginationQueryDto): Promise<Page<WatchView>> {
    return this.watches.list(user, query.page, query.limit);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One watch, with its last run' })
  @ApiOkResponse({ type: WatchDto })
  @ApiErrors([400, INVALID_ID_MESSAGE], 401, [404, 'Watch not found'])
  get(@CurrentUser() user: AuthUser, @Param('id', ParseUUIDPipe) id: string): Promise<WatchView> {
    return this.watches.get(user, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Enable or disable a watch, or change its options, debounce or schedule' })
  @ApiOkResponse({ type: WatchDto })
  @ApiErrors([400, INVALID_ID_MESSAGE], 401, [404, 'Watch not found'])
  update(
    @CurrentUser() user: AuthUser,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: UpdateWatchDto,
  ): Promise<WatchView> {
    return this.watches.update(user, id, body);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Stop watching a folder (its operations stay)' })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Deleted; no more runs start' })
  @ApiErrors([400, INVALID_ID_MESSAGE], 401, [404, 'Watch not found'])
  remove(@CurrentUser() user: AuthUser, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.watches.remove(user, id);
  }
}
