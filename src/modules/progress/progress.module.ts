import { Module } from '@nestjs/common';
import { PROGRESS_EVENT_SINK } from './progress-events.js';
import { ProgressPublisher } from './progress-publisher.js';
import { RedisProgressEventSink } from './redis-progress-event-sink.js';

/** Publishing progress: used by workers (runs) and by the API (cancelling a pending operation). */
@Module({
  providers: [ProgressPublisher, { provide: PROGRESS_EVENT_SINK, useClass: RedisProgressEventSink }],
  exports: [ProgressPublisher],
})
export class ProgressModule {}
