import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { AppModule } from '../../src/app.module.js';
import { LOG_DESTINATION } from '../../src/common/logging/logging.module.js';
import { configureApp } from '../../src/app.setup.js';
import { type AppConfig, loadConfig } from '../../src/config/app-config.js';
import { cloneTemplateDatabase, dropDatabase } from './test-database.js';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  /** Base URL of the listening server, e.g. for socket.io-client. */
  url: string;
  http: () => TestAgent;
  databaseName: string;
  close: () => Promise<void>;
}

/**
 * Boots the whole service against the real PostgreSQL and Redis, in a database, a Redis key
 * prefix and a storage folder of its own, listening on a free port of 127.0.0.1.
 */
export interface TestAppOptions {
  /** Receives the app's JSON log lines (at LOG_LEVEL, default info); without it only errors reach stderr. */
  logStream?: Writable;
}

export async function createTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const id = randomBytes(5).toString('hex');
  const databaseName = `fileorganizer_test_${id}`;
  const databaseUrl = await cloneTemplateDatabase(databaseName);
  const storageRoot = await mkdtemp(path.join(os.tmpdir(), 'fo-test-storage-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: `test-secret-${id}-0123456789abcdef0123456789`,
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `fotest:${id}`,
    STORAGE_LOCAL_ROOT: storageRoot,
    WORKER_CONCURRENCY: '2',
    // Every test signs up and logs in from 127.0.0.1: per-address limits that fit one person would
    // trip suites that sign up dozens of users. Tests of these limits set them lower.
    SIGNUP_RATE_LIMIT: '10000',
    LOGIN_IP_RATE_LIMIT: '10000',
    LOG_LEVEL: options.logStream || process.env.TEST_LOG ? 'info' : 'error',
    ...env,
  });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .overrideProvider(LOG_DESTINATION)
    .useValue(options.logStream ?? process.stderr)
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({
    bodyParser: false,
    logger: process.env.TEST_LOG ? ['error', 'warn', 'log'] : ['error'],
  });
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    config,
    url,
    databaseName,
    http: () => request(app.getHttpServer()),
    close: async () => {
      await app.close();
      await dropDatabase(databaseName);
      await rm(storageRoot, { recursive: true, force: true });
      await deleteRedisKeys(config.redisUrl, `${config.redisPrefix}:*`);
    },
  };
}

/** Best effort: an app built to find Redis unreachable has nothing to clean, and must not hang here. */
async function deleteRedisKeys(redisUrl: string, pattern: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis unreachable: nothing was written under this prefix.
  } finally {
    redis.disconnect();
  }
}

let counter = 0;
/** A unique, valid email for one test. */
export function uniqueEmail(label = 'user'): string {
  counter += 1;
  return `${label}-${Date.now().toString(36)}-${counter}-${randomBytes(3).toString('hex')}@example.com`;
}

export interface SignedUpUser {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export async function signUp(testApp: TestApp, label = 'user'): Promise<SignedUpUser> {
  const email = uniqueEmail(label);
  const password = 'correct horse battery';
  const response = await testApp.http().post('/api/v1/auth/signup').send({ email, password }).expect(201);
  return {
    id: response.body.user.id,
    email,
    password,
    accessToken: response.body.accessToken,
    refreshToken: response.body.refreshToken,
  };
}
