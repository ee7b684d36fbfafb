import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { OperationsModule } from '../operations/operations.module.js';
import { ProgressModule } from './progress.module.js';
import { ProgressGateway } from './progress.gateway.js';

/** The API side of live progress: the `/operations` Socket.IO namespace. */
@Module({
  imports: [AuthModule, OperationsModule, ProgressModule],
  providers: [ProgressGateway],
})
export class ProgressGatewayModule {}
