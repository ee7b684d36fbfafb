import { Inject, Module } from '@nestjs/common';
import type { OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Express, RequestHandler } from 'express';
import { QUEUE_BOARD_PATH } from '../../queue/queue-board.js';
import { QUEUE_BOARD_ROUTER, QueueBoardModule } from '../../queue/queue-board.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { OperationsDataModule } from '../operations/operations-data.module.js';
import { AdminSessionService } from './admin-session.service.js';
import { AdminController } from './admin.controller.js';
import { AdminService } from './admin.service.js';
import { QueueBoardGate } from './queue-board.gate.js';

/** API.md's Admin section: users, all operations, and the queue board at /admin/queues. */
@Module({
  imports: [AuthModule, QueueBoardModule, OperationsDataModule],
  controllers: [AdminController],
  providers: [AdminService, AdminSessionService, QueueBoardGate],
})
export class AdminModule implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly gate: QueueBoardGate,
    @Inject(QUEUE_BOARD_ROUTER) private readonly board: RequestHandler,
  ) {}

  /** Mounted on Express before Nest's not-found handler; the gate runs before any board code. */
  onModuleInit(): void {
    const express = this.adapterHost.httpAdapter?.getInstance<Express>();
    if (!express) return;
    express.use(QUEUE_BOARD_PATH, this.gate.middleware, this.board);
  }
}
