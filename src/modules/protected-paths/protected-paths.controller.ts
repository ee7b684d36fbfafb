import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../../common/auth-user.js';
import { CurrentUser } from '../../common/decorators/current-user.decorator.js';
import { ApiErrors } from '../../common/openapi.js';
import { ProtectedPathsDto } from './dto.js';
import { ProtectedPathsService } from './protected-paths.service.js';

@ApiTags('protected paths')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/me/protected-paths')
export class ProtectedPathsController {
  constructor(private readonly protectedPaths: ProtectedPathsService) {}

  @Get()
  @ApiOperation({ summary: 'Your protected paths' })
  @ApiOkResponse({ type: ProtectedPathsDto })
  @ApiErrors(401)
  async list(@CurrentUser() user: AuthUser): Promise<ProtectedPathsDto> {
    return { paths: await this.protectedPaths.list(user.id) };
  }

  @Put()
  @ApiOperation({
    summary: 'Replace your protected paths',
    description:
      'Files under a protected path are never moved, quarantined or deleted by any operation (organize, apply, ' +
      'cleanup_duplicates, purge): their records are `skipped` with the reason `protected`. Nothing is moved into ' +
      'a protected path either. Answers the list as stored (normalized, sorted, paths inside another one dropped).',
  })
  @ApiOkResponse({ type: ProtectedPathsDto })
  @ApiErrors(400, 401)
  async replace(@CurrentUser() user: AuthUser, @Body() body: ProtectedPathsDto): Promise<ProtectedPathsDto> {
    return { paths: await this.protectedPaths.replace(user.id, body.paths) };
  }
}
