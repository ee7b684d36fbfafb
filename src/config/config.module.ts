import { DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, loadConfig } from './app-config.js';

/** Injection token for the validated AppConfig. */
export const APP_CONFIG = Symbol('APP_CONFIG');

@Module({})
export class ConfigModule {
  /** `config` lets main.ts and tests pass the one instance they validated. */
  static forRoot(config: AppConfig = loadConfig()): DynamicModule {
    return {
      global: true,
      module: ConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
