import { Module } from '@nestjs/common';
import type { DynamicModule, Type } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ProgressModule } from './progress.module.js';
import { ProgressGateway } from './progress.gateway.js';

/**
 * The API side of live progress: the `/operations` Socket.IO namespace. `accessFrom` is the module
 * that exports OPERATION_ACCESS (the operations module; the composition root names it, so that
 * progress imports nothing from operations).
 */
@Module({})
export class ProgressGatewayModule {
  static register(options: { accessFrom: Type<unknown> | DynamicModule }): DynamicModule {
    return {
      module: ProgressGatewayModule,
      imports: [AuthModule, ProgressModule, options.accessFrom],
      providers: [ProgressGateway],
    };
  }
}
