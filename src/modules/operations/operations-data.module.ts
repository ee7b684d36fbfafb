import { Module } from '@nestjs/common';
import { FileRecordsStore } from './file-records.store.js';
import { OperationsRepository } from './operations.repository.js';

/** The owners of the `operations` and `file_records` tables, for the API and worker sides (and admin). */
@Module({
  providers: [OperationsRepository, FileRecordsStore],
  exports: [OperationsRepository, FileRecordsStore],
})
export class OperationsDataModule {}
