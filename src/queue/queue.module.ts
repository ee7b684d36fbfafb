import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { OperationJobs } from './operation-jobs.js';
import { QueueName } from './queue.constants.js';
import { WatchJobs } from './watch-jobs.js';

/** Bull on REDIS_URL; every queue is registered here so API and worker roles see the same ones. */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        url: config.redisUrl,
        prefix: `${config.redisPrefix}:bull`,
        settings: {
          lockDuration: config.jobLockMs,
          stalledInterval: config.jobLockMs,
          // A job whose worker died is handed to another worker; more crashes are the recovery pass's to count.
          maxStalledCount: 1,
        },
        defaultJobOptions: { removeOnComplete: { age: 86_400, count: 1000 }, removeOnFail: { age: 7 * 86_400 } },
      }),
    }),
    BullModule.registerQueue({ name: QueueName.Operations }, { name: QueueName.Watches }),
  ],
  providers: [OperationJobs, WatchJobs],
  exports: [BullModule, OperationJobs, WatchJobs],
})
export class QueueModule {}
