import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post } from '@nestjs/common';
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
import type { Page } from '../../common/dto/pagination.dto.js';
import { ApiErrors } from '../../common/openapi.js';
import { RateLimit } from '../../common/throttling/rate-limit.decorator.js';
import { CategoriesService } from './categories.service.js';
import type { CategoryView } from './categories.service.js';
import { CategoryPreviewService } from './category-preview.service.js';
import { CategoryPreviewDto, CategoryPreviewRequestDto } from './dto/category-preview.dto.js';
import { CategoryDto, CategoryListDto, CreateCategoryRuleDto, UpdateCategoryRuleDto } from './dto/category-rule.dto.js';

@ApiTags('categories')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/categories')
export class CategoriesController {
  constructor(
    private readonly categories: CategoriesService,
    private readonly previews: CategoryPreviewService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List the built-in categories and your own rules' })
  @ApiOkResponse({ type: CategoryListDto })
  @ApiErrors(401)
  list(@CurrentUser() user: AuthUser): Promise<Page<CategoryView>> {
    return this.categories.list(user);
  }

  @Post()
  @ApiOperation({
    summary: 'Add a category rule of your own',
    description: 'At most MAX_CATEGORY_RULES_PER_USER rules per user (409 beyond).',
  })
  @ApiCreatedResponse({ type: CategoryDto })
  @ApiErrors(400, 401, [409, 'You have 100 category rules, the most allowed is 100; delete one first'])
  create(@CurrentUser() user: AuthUser, @Body() body: CreateCategoryRuleDto): Promise<CategoryView> {
    return this.categories.create(user, body);
  }

  @Post('preview')
  @HttpCode(HttpStatus.OK)
  // A preview walks up to 20,000 files and may read their heads or contents: fewer than a listing.
  @RateLimit({ name: 'categories.preview', limit: 30, windowSeconds: 60 })
  @ApiOperation({
    summary: 'Preview a rule: the files it would match and where each would go',
    description:
      'Nothing is saved or moved. Walks rootPath (the rules of an organize rootPath: relative, no "..", no reserved ' +
      'names, no symbolic links) and answers up to `limit` (at most 1000) matched files, in walk order, with the ' +
      'destination an organize of rootPath would give each (before " (n)" for a taken name). Stops after 20000 files ' +
      '(`truncated`). Only this rule is asked: files it does not match are not listed. 30 previews a minute per user.',
  })
  @ApiOkResponse({ type: CategoryPreviewDto })
  @ApiErrors(400, 401, 429)
  preview(@CurrentUser() user: AuthUser, @Body() body: CategoryPreviewRequestDto): Promise<CategoryPreviewDto> {
    return this.previews.preview(user, body);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change one of your category rules' })
  @ApiOkResponse({ type: CategoryDto })
  @ApiErrors(400, 401, [404, 'Category rule not found'])
  update(
    @CurrentUser() user: AuthUser,
    @Param('id') id: string,
    @Body() body: UpdateCategoryRuleDto,
  ): Promise<CategoryView> {
    return this.categories.update(user, id, body);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete one of your category rules' })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(400, 401, [404, 'Category rule not found'])
  remove(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<void> {
    return this.categories.remove(user, id);
  }
}
