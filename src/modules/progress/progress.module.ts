import { Module } from '@nestjs/common';
import { NoopProgressEventSink, PROGRESS_EVENT_SINK } from './progress-events.js';
import { ProgressService } from './progress.service.js';

@Module({
  providers: [ProgressService, { provide: PROGRESS_EVENT_SINK, useClass: NoopProgressEventSink }],
  exports: [ProgressService],
})
export class ProgressModule {}
