import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { ensureDatabaseExists, runMigrationsLocked } from './database-bootstrap.js';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => buildDataSourceOptions(config.databaseUrl),
      dataSourceFactory: async (options) => {
        if (!options) throw new Error('no data source options');
        const url = (options as { url: string }).url;
        await ensureDatabaseExists(url);
        const dataSource = await new DataSource(options).initialize();
        await runMigrationsLocked(dataSource);
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
