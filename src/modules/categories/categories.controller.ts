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
import { CategoriesService } from './categories.service.js';
import type { CategoryView } from './categories.service.js';
import { CategoryDto, CategoryListDto, CreateCategoryRuleDto, UpdateCategoryRuleDto } from './dto/category-rule.dto.js';

@ApiTags('categories')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/categories')
export class CategoriesController {
  constructor(private readonly categories: CategoriesService) {}

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
