import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CategoriesController } from './categories.controller.js';
import { CategoriesService } from './categories.service.js';
import { CategoryRule } from './category-rule.entity.js';

/** Built-in categories and users' own rules; the HTTP routes are mounted by CategoriesApiModule. */
@Module({
  imports: [TypeOrmModule.forFeature([CategoryRule])],
  providers: [CategoriesService],
  exports: [CategoriesService],
})
export class CategoriesModule {}

@Module({ imports: [CategoriesModule], controllers: [CategoriesController] })
export class CategoriesApiModule {}
