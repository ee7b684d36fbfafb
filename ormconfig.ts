import { DataSource } from 'typeorm';
import { loadDatabaseUrl } from './src/config/app-config.js';
import { buildDataSourceOptions } from './src/database/data-source-options.js';

/**
 * The data source the TypeORM CLI uses (npm run migration:*, or `npx typeorm migration:run -d
 * dist/ormconfig.js` in the image); the app builds the same one. It reads DATABASE_URL only.
 */
export default new DataSource(buildDataSourceOptions(loadDatabaseUrl()));
