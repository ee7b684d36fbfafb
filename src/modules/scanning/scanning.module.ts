import { Module } from '@nestjs/common';
import { ScanningService } from './scanning.service.js';

/** Walking a user's tree: one set of rules for every backend (storage gives the primitive). */
@Module({ providers: [ScanningService], exports: [ScanningService] })
export class ScanningModule {}
