import { Inject, Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROGRESS_EVENT_SINK, ProgressEventName } from './progress-events.js';
import type { ProgressCounters, ProgressEventPayloads, ProgressEventSink } from './progress-events.js';

/** Pauses between attempts to publish a terminal event while Redis does not answer (about 6 s in all). */
const TERMINAL_RETRY_DELAYS_MS = [100, 400, 1500, 4000];

/**
 * The sending side of live progress (workers, and the API when it ends a pending operation): it
 * knows events and the sink, not operations. Progress and status events are hints (a client that
 * misses one re-reads the row): one attempt. A terminal event is what a waiting client acts on:
 * retried while Redis is briefly away.
 */
@Injectable()
export class ProgressPublisher {
  private readonly logger = new Logger('Progress');

  constructor(@Inject(PROGRESS_EVENT_SINK) private readonly sink: ProgressEventSink) {}

  async publish<E extends ProgressEventName>(event: E, payload: ProgressEventPayloads[E]): Promise<void> {
    const terminal = event === ProgressEventName.Completed || event === ProgressEventName.Failed;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.sink.publish(event, payload);
        return;
      } catch (error) {
        if (!terminal || attempt >= TERMINAL_RETRY_DELAYS_MS.length) {
          this.logger.warn(`${event} of operation ${payload.operationId} not published: ${(error as Error).message}`);
          return;
        }
        await sleep(TERMINAL_RETRY_DELAYS_MS[attempt]);
      }
    }
  }

  async progress(operationId: string, progress: ProgressCounters): Promise<void> {
    await this.publish(ProgressEventName.Progress, { operationId, progress, at: new Date().toISOString() });
  }

  async status(operationId: string, status: string): Promise<void> {
    await this.publish(ProgressEventName.Status, { operationId, status, at: new Date().toISOString() });
  }

  /** The end of an operation: `operation.failed` for status `failed`, `operation.completed` for every other end. */
  async ended(
    operationId: string,
    status: string,
    progress: ProgressCounters,
    error: { message: string } | null = null,
  ): Promise<void> {
    const at = new Date().toISOString();
    if (status === 'failed') {
      await this.publish(ProgressEventName.Failed, {
        operationId,
        error: error ?? { message: 'failed' },
        progress,
        at,
      });
    } else {
      await this.publish(ProgressEventName.Completed, { operationId, status, progress, at });
    }
  }

  /** Whether an end event of the operation went out (true when the sink cannot tell: nothing is sent twice then). */
  terminalPublished(operationId: string): Promise<boolean> {
    return this.sink.terminalPublished(operationId).catch(() => true);
  }

  /** The `seq` of the operation's latest event, for a subscriber's snapshot. */
  currentSeq(operationId: string): Promise<number> {
    return this.sink.currentSeq(operationId);
  }
}
