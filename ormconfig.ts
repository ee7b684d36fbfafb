import { DataSource } from 'typeorm';
import { loadConfig } from './src/config/app-config.js';
import { buildDataSourceOptions } from './src/database/data-source-options.js';

/** The data source the TypeORM CLI uses (npm run migration:*); the app builds the same one. */
export default new DataSource(buildDataSourceOptions(loadConfig().databaseUrl));
