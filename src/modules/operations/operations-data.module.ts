import { Module } from '@nestjs/common';
import { DuplicatesModule } from '../duplicates/duplicates.module.js';
import { FileRecordsStore } from './file-records.store.js';
import { OperationsQueriesService } from './operations-queries.service.js';
import { OperationsRepository } from './operations.repository.js';

/**
 * The owners of the `operations` and `file_records` tables and the read side over them
 * (OperationsQueriesService), for the API and worker sides and the admin module.
 */
@Module({
  imports: [DuplicatesModule],
  providers: [OperationsRepository, FileRecordsStore, OperationsQueriesService],
  exports: [OperationsRepository, FileRecordsStore, OperationsQueriesService],
})
export class OperationsDataModule {}
