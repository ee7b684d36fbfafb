import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { lowerThreadPriorities } from './common/process-priority.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { startTracing } from './tracing/tracing.js';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // A worker yields the CPU to an API on the same host (docker-compose runs both on one): set
  // before any pool or hash thread starts, so that they inherit it.
  if (config.appRole === 'worker' && config.workerNice > 0) {
    try {
      lowerThreadPriorities(config.workerNice);
    } catch (error) {
      process.stderr.write(`WORKER_NICE=${config.workerNice} could not be applied: ${String(error)}\n`);
    }
  }
  // Tracing is off unless an OTLP endpoint is configured. It starts before the app is imported, so
  // the PostgreSQL and Redis instrumentations are in place before those clients load.
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    await startTracing({ serviceName: process.env.OTEL_SERVICE_NAME ?? 'fileorganizer' });
  }
  // Before Nest: a PostgreSQL that refuses us is one line naming DATABASE_URL, not nine retries with stack traces.
  const [{ ensureDatabaseExists }, { explainDatabaseError }] = await Promise.all([
    import('./database/database-bootstrap.js'),
    import('./database/database-errors.js'),
  ]);
  try {
    await ensureDatabaseExists(config.databaseUrl);
  } catch (error) {
    const line = explainDatabaseError(error, config.databaseUrl);
    if (line === null) throw error;
    process.stderr.write(`${line}\n`);
    process.exit(1);
  }
  const [{ Logger }, { NestFactory }, { AppModule }, { configureApp }] = await Promise.all([
    import('@nestjs/common'),
    import('@nestjs/core'),
    import('./app.module.js'),
    import('./app.setup.js'),
  ]);
  const logger = new Logger('Bootstrap');
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    // Held until configureApp installs the JSON logger, so start-up lines are JSON too.
    bufferLogs: true,
  });
  configureApp(app, config);
  if (config.jwtSecretGenerated) {
    logger.warn('JWT_SECRET is not set: using a random secret, so tokens stop working when the process restarts');
  }
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    logger.log(`Tracing to ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}`);
  }
  await app.listen(config.port);
  const { port } = app.getHttpServer().address() as AddressInfo;
  logger.log(`FileOrganizer (${config.appRole}) listening on port ${port}`);
  // The last start-up line says where to go next.
  const base = `http://localhost:${port}`;
  if (config.appRole === 'worker') logger.log(`Health: ${base}/health  Metrics: ${base}/metrics`);
  else logger.log(`Console: ${base}/  API docs: ${base}/docs`);
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`Start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
