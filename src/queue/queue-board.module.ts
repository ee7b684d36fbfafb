import { getQueueToken } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import type { Queue } from 'bull';
import { QueueName } from './queue.constants.js';
import { QueueModule } from './queue.module.js';
import { createQueueBoardRouter } from './queue-board.js';

export const QUEUE_BOARD_ROUTER = Symbol('QUEUE_BOARD_ROUTER');

/** The Bull Board router over every queue; the admin module mounts it behind its gate. */
@Module({
  imports: [QueueModule],
  providers: [
    {
      provide: QUEUE_BOARD_ROUTER,
      inject: [getQueueToken(QueueName.Operations), getQueueToken(QueueName.Watches)],
      useFactory: (operations: Queue, watches: Queue) => createQueueBoardRouter([operations, watches]),
    },
  ],
  exports: [QUEUE_BOARD_ROUTER],
})
export class QueueBoardModule {}
