import { Module } from '@nestjs/common';
import { CategoriesModule } from '../categories/categories.module.js';
import { ScanningModule } from '../scanning/scanning.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { FilesController } from './files.controller.js';
import { FilesService } from './files.service.js';

/** API.md's Files section. */
@Module({
  imports: [StorageModule, ScanningModule, CategoriesModule],
  controllers: [FilesController],
  providers: [FilesService],
})
export class FilesModule {}
