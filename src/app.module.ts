import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { LoggingModule } from './common/logging/logging.module.js';
import { RolesGuard } from './common/guards/roles.guard.js';
import { RateLimitGuard } from './common/throttling/rate-limit.guard.js';
import { RateLimitModule } from './common/throttling/rate-limit.module.js';
import { DatabaseModule } from './database/database.module.js';
import { AdminModule } from './modules/admin/admin.module.js';
import { AuthModule } from './modules/auth/auth.module.js';
import { AuthenticationGuard } from './modules/auth/authentication.guard.js';
import { FilesModule } from './modules/files/files.module.js';
import { CategoriesApiModule } from './modules/categories/categories.module.js';
import { HealthModule } from './modules/health/health.module.js';
import { MetricsModule } from './modules/metrics/metrics.module.js';
import { OperationsWorkerModule } from './modules/operations/operations-worker.module.js';
import { OperationsModule } from './modules/operations/operations.module.js';
import { ProtectedPathsApiModule } from './modules/protected-paths/protected-paths.module.js';
import { ProgressGatewayModule } from './modules/progress/progress-gateway.module.js';
import { UsersModule } from './modules/users/users.module.js';
import { WatchesWorkerModule } from './modules/watches/watches-worker.module.js';
import { WatchesModule } from './modules/watches/watches.module.js';
import { QueueModule } from './queue/queue.module.js';
import { TracingModule } from './tracing/tracing.module.js';
import { RedisModule } from './redis/redis.module.js';

@Module({})
export class AppModule {
  /**
   * The composition root. `config.appRole` decides what is mounted: `api` serves HTTP and the
   * progress sockets and runs no jobs; `worker` runs the processors and serves /health only.
   */
  static forRoot(config: AppConfig): DynamicModule {
    const servesApi = config.appRole !== 'worker';
    const runsJobs = config.appRole !== 'api';
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        TracingModule,
        RedisModule,
        RateLimitModule,
        DatabaseModule,
        QueueModule,
        HealthModule,
        MetricsModule,
        ...(servesApi
          ? [
              UsersModule,
              AuthModule,
              OperationsModule,
              CategoriesApiModule,
              ProgressGatewayModule.register({ accessFrom: OperationsModule }),
              AdminModule,
              FilesModule,
              ProtectedPathsApiModule,
              WatchesModule,
            ]
          : []),
        ...(runsJobs ? [OperationsWorkerModule, WatchesWorkerModule] : []),
      ],
      providers: servesApi
        ? [
            // Order matters: who is calling, then how often, then whether their role may.
            { provide: APP_GUARD, useExisting: AuthenticationGuard },
            { provide: APP_GUARD, useClass: RateLimitGuard },
            { provide: APP_GUARD, useClass: RolesGuard },
          ]
        : [],
    };
  }
}
