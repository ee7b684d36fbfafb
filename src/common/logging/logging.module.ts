import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { AppLogger } from './app-logger.js';
import { LogContextInterceptor } from './log-context.interceptor.js';
import { createRootLogger } from './logger.js';
import { prettyStream } from './pretty-stream.js';

/** Where log lines go: stdout by default; tests override it to capture or hide them. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

@Global()
@Module({
  providers: [
    {
      provide: LOG_DESTINATION,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): DestinationStream =>
        config.logFormat === 'pretty'
          ? prettyStream(process.stdout, config.logLevel === 'debug' || config.logLevel === 'trace')
          : pino.destination({ dest: 1, sync: false }),
    },
    {
      provide: ROOT_LOGGER,
      inject: [APP_CONFIG, LOG_DESTINATION],
      useFactory: (config: AppConfig, destination: DestinationStream): Logger =>
        createRootLogger({ level: config.logLevel, role: config.appRole, destination }),
    },
    { provide: AppLogger, inject: [ROOT_LOGGER], useFactory: (root: Logger) => new AppLogger(root) },
    { provide: APP_INTERCEPTOR, useClass: LogContextInterceptor },
  ],
  exports: [ROOT_LOGGER, AppLogger],
})
export class LoggingModule {}
