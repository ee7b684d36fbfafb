import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProtectedPathsModule } from '../protected-paths/protected-paths.module.js';
import { ScanningModule } from '../scanning/scanning.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { CategoriesController } from './categories.controller.js';
import { CategoryPreviewService } from './category-preview.service.js';
import { CategoriesService } from './categories.service.js';
import { CategoryRule } from './category-rule.entity.js';

/** Built-in categories and users' own rules; the HTTP routes are mounted by CategoriesApiModule. */
@Module({
  imports: [TypeOrmModule.forFeature([CategoryRule])],
  providers: [CategoriesService],
  exports: [CategoriesService],
})
export class CategoriesModule {}

@Module({
  imports: [CategoriesModule, StorageModule, ScanningModule, ProtectedPathsModule],
  controllers: [CategoriesController],
  providers: [CategoryPreviewService],
})
export class CategoriesApiModule {}
