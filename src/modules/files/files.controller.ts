import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../../common/auth-user.js';
import { CurrentUser } from '../../common/decorators/current-user.decorator.js';
import { ApiErrors } from '../../common/openapi.js';
import { FolderEntryPageDto, ListFolderQueryDto } from './files.dto.js';
import { FilesService } from './files.service.js';
import type { FolderListing } from './files.service.js';

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
      'Entries under `path`, folders first then by name (on S3: key order, folders and files interleaved; with `recursive=true`: everything below, folders first then by path), each file with the category organize would give it. Symbolic links and `.fileorganizer/` are not listed. `path` follows the rules of `rootPath`: 400 when it is absolute, has a `..` segment or leads through a link, 404 when nothing is there. A plain listing is read page by page in bounded memory: follow `nextCursor` (`page` × `limit` beyond 10,000 entries is a 400); `recursive` and `category` listings hold at most 50,000 entries (400 beyond).',
  })
  @ApiOkResponse({ type: FolderEntryPageDto })
  @ApiErrors(400, 401, 404, 429)
  list(@CurrentUser() user: AuthUser, @Query() query: ListFolderQueryDto): Promise<FolderListing> {
    return this.files.list(user, query);
  }
}
