import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../../common/auth-user.js';
import { CurrentUser } from '../../common/decorators/current-user.decorator.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { ApiErrors } from '../../common/openapi.js';
import { FolderEntryPageDto, ListFolderQueryDto } from './files.dto.js';
import { FilesService } from './files.service.js';
import type { FolderEntryView } from './files.service.js';

@ApiTags('files')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/files')
export class FilesController {
  constructor(private readonly files: FilesService) {}

  @Get()
  @ApiOperation({
    summary: 'Browse your folder',
    description:
      'Entries under `path`, folders first then by name (with `recursive=true`: everything below, folders first then by path), each file with the category organize would give it. Symbolic links and `.fileorganizer/` are not listed. `path` follows the rules of `rootPath`: 400 when it is absolute, has a `..` segment or leads through a link, 404 when nothing is there.',
  })
  @ApiOkResponse({ type: FolderEntryPageDto })
  @ApiErrors(400, 401, 404, 429)
  list(@CurrentUser() user: AuthUser, @Query() query: ListFolderQueryDto): Promise<Page<FolderEntryView>> {
    return this.files.list(user, query);
  }
}
