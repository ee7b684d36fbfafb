import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bull';
import type { RequestHandler } from 'express';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * Bull Board for the given queues, as an Express router to mount at QUEUE_BOARD_PATH behind an
 * admin check. (@bull-board/nestjs is CommonJS that requires @nestjs/common, which NestJS 12
 * ships as ES modules only, so Jest on Node 20 cannot load it; the Express adapter is what that
 * module wraps anyway.)
 */
export function createQueueBoardRouter(queues: Queue[]): RequestHandler {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'FileOrganizer queues' } },
  });
  return serverAdapter.getRouter() as RequestHandler;
}
