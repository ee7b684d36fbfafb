import { Module } from '@nestjs/common';
import { PROGRESS_EVENT_SINK } from './progress-events.js';
import { ProgressService } from './progress.service.js';
import { RedisProgressEventSink } from './redis-progress-event-sink.js';

/** Publishing progress: used by workers (runs) and by the API (cancelling a pending operation). */
@Module({
  providers: [ProgressService, { provide: PROGRESS_EVENT_SINK, useClass: RedisProgressEventSink }],
  exports: [ProgressService],
})
export class ProgressModule {}
