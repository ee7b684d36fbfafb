import path from 'node:path';
import { ConfigError, defaultRedisPrefix, loadConfig, parseDuration, parseTrustProxy } from './app-config.js';

/** The error loadConfig throws for `env`, asserted to be one ConfigError line naming `name`. */
function configError(env: Record<string, string>, name: string): string {
  let thrown: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  const message = (thrown as Error).message;
  expect(message).not.toContain('\n');
  expect(message).not.toContain('\r');
  expect(message).toContain(name);
  return message;
}

describe('loadConfig', () => {
  it('has working defaults with no variable set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/fileorganizer',
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'fo:fileorganizer',
      trustProxy: false,
      logFormat: 'json',
      jwtSecretGenerated: true,
      jwtAccessTtlSeconds: 900,
      jwtRefreshTtlSeconds: 30 * 86400,
      storageLocalRoot: path.resolve('./data/files'),
      appRole: 'all',
      workerConcurrency: 2,
      workerNice: 10,
      corsOrigins: true,
      logLevel: 'info',
      quarantineRetentionDays: 30,
      maxActiveOperationsPerUser: 4,
      watchLeaseMs: 15_000,
      maxWatchesPerUser: 20,
      s3: { region: 'us-east-1', forcePathStyle: false, bucket: undefined, endpoint: undefined },
    });
    expect(config.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({}).jwtSecret).not.toBe(config.jwtSecret);
  });

  it('treats empty and blank values as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '  ', JWT_SECRET: '' })).toMatchObject({
      port: 3000,
      logLevel: 'info',
      jwtSecretGenerated: true,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      DATABASE_URL: 'postgresql://app:pw@db:5432/files',
      REDIS_URL: 'rediss://cache:6380/2',
      JWT_SECRET: 's'.repeat(32),
      JWT_ACCESS_TTL: '5m',
      JWT_REFRESH_TTL: '7d',
      STORAGE_LOCAL_ROOT: '/srv/files',
      S3_ENDPOINT: 'http://minio:9000',
      S3_REGION: 'eu-west-1',
      S3_BUCKET: 'files',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'true',
      APP_ROLE: 'worker',
      WORKER_CONCURRENCY: '8',
      WORKER_NICE: '0',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
      LOG_LEVEL: 'DEBUG',
      QUARANTINE_RETENTION_DAYS: '0',
      MAX_ACTIVE_OPERATIONS_PER_USER: '10',
      WATCH_LEASE_MS: '5000',
      MAX_WATCHES_PER_USER: '3',
    });
    expect(config).toMatchObject({
      nodeEnv: 'production',
      port: 8080,
      databaseUrl: 'postgresql://app:pw@db:5432/files',
      redisUrl: 'rediss://cache:6380/2',
      jwtSecret: 's'.repeat(32),
      jwtSecretGenerated: false,
      jwtAccessTtlSeconds: 300,
      jwtRefreshTtlSeconds: 7 * 86400,
      storageLocalRoot: '/srv/files',
      s3: {
        endpoint: 'http://minio:9000',
        region: 'eu-west-1',
        bucket: 'files',
        accessKeyId: 'id',
        secretAccessKey: 'secret',
        forcePathStyle: true,
      },
      appRole: 'worker',
      workerConcurrency: 8,
      workerNice: 0,
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
      logLevel: 'debug',
      quarantineRetentionDays: 0,
      watchLeaseMs: 5000,
      maxWatchesPerUser: 3,
      maxActiveOperationsPerUser: 10,
    });
  });

  it('reads the throttles and metrics switches, with defaults that fit one person per address', () => {
    const defaults = loadConfig({ UV_THREADPOOL_SIZE: '4' });
    expect(defaults.metricsEnabled).toBe(true);
    expect(defaults.throttles).toMatchObject({
      argon2QueueSize: 64,
      signup: { limit: 20, windowSeconds: 600 },
      loginPerIp: { limit: 100, windowSeconds: 60 },
      loginPerAccountIp: { limit: 10, windowSeconds: 60 },
      loginLockoutSeconds: 60,
      loginLockoutMaxSeconds: 3600,
      apiKeyFailuresPerIp: { limit: 30, windowSeconds: 60 },
      operationsCreate: { limit: 60, windowSeconds: 60 },
      maxApiKeysPerUser: 25,
      maxCategoryRulesPerUser: 200,
    });
    // One thread-pool thread always stays free for file-system calls.
    expect(defaults.throttles.argon2Concurrency).toBeGreaterThanOrEqual(1);
    expect(defaults.throttles.argon2Concurrency).toBeLessThanOrEqual(3);
    expect(loadConfig({ UV_THREADPOOL_SIZE: '1' }).throttles.argon2Concurrency).toBe(1);

    const config = loadConfig({
      METRICS_ENABLED: 'false',
      ARGON2_CONCURRENCY: '3',
      ARGON2_QUEUE_SIZE: '0',
      SIGNUP_RATE_LIMIT: '5',
      SIGNUP_RATE_WINDOW: '1h',
      LOGIN_IP_RATE_LIMIT: '50',
      LOGIN_FAILURE_RATE_LIMIT: '4',
      LOGIN_FAILURE_RATE_WINDOW: '5m',
      LOGIN_LOCKOUT: '30s',
      LOGIN_LOCKOUT_MAX: '2h',
      API_KEY_FAILURE_RATE_LIMIT: '7',
      OPERATIONS_CREATE_RATE_LIMIT: '9',
      OPERATIONS_CREATE_RATE_WINDOW: '10s',
      MAX_API_KEYS_PER_USER: '2',
      MAX_CATEGORY_RULES_PER_USER: '3',
    });
    expect(config.metricsEnabled).toBe(false);
    expect(config.throttles).toEqual({
      argon2Concurrency: 3,
      argon2QueueSize: 0,
      signup: { limit: 5, windowSeconds: 3600 },
      loginPerIp: { limit: 50, windowSeconds: 60 },
      loginPerAccountIp: { limit: 4, windowSeconds: 300 },
      loginLockoutSeconds: 30,
      loginLockoutMaxSeconds: 7200,
      apiKeyFailuresPerIp: { limit: 7, windowSeconds: 60 },
      operationsCreate: { limit: 9, windowSeconds: 10 },
      maxApiKeysPerUser: 2,
      maxCategoryRulesPerUser: 3,
    });
  });

  it('refuses nonsense throttles', () => {
    expect(configError({ SIGNUP_RATE_LIMIT: '0' }, 'SIGNUP_RATE_LIMIT')).toMatch(/between 1/);
    expect(configError({ LOGIN_FAILURE_RATE_LIMIT: '-1' }, 'LOGIN_FAILURE_RATE_LIMIT')).toMatch(/whole number/);
    expect(configError({ API_KEY_FAILURE_RATE_WINDOW: 'forever' }, 'API_KEY_FAILURE_RATE_WINDOW')).toMatch(/duration/);
    expect(configError({ ARGON2_CONCURRENCY: '0' }, 'ARGON2_CONCURRENCY')).toMatch(/between 1/);
    expect(configError({ LOGIN_LOCKOUT: '2h', LOGIN_LOCKOUT_MAX: '1h' }, 'LOGIN_LOCKOUT_MAX')).toMatch(/at least/);
    expect(configError({ METRICS_ENABLED: 'maybe' }, 'METRICS_ENABLED')).toMatch(/true or false/);
  });

  it('requires JWT_SECRET in production, and a long one', () => {
    expect(configError({ NODE_ENV: 'production' }, 'JWT_SECRET')).toMatch(/required/);
    expect(configError({ NODE_ENV: 'production', JWT_SECRET: 'short' }, 'JWT_SECRET')).toMatch(/32/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).jwtSecretGenerated).toBe(false);
  });

  it('never prints the JWT secret or the database password in an error', () => {
    const secretMessage = configError({ NODE_ENV: 'production', JWT_SECRET: 'hunter2-secret' }, 'JWT_SECRET');
    expect(secretMessage).not.toContain('hunter2');
    const urlMessage = configError({ DATABASE_URL: 'mysql://app:hunter2@db/files' }, 'DATABASE_URL');
    expect(urlMessage).not.toContain('hunter2');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '3000.5'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_URL', 'mysql://db/files'],
    ['REDIS_URL', 'http://cache:6379'],
    ['JWT_ACCESS_TTL', '15x'],
    ['JWT_ACCESS_TTL', '0'],
    ['JWT_ACCESS_TTL', '-5m'],
    ['JWT_REFRESH_TTL', 'forever'],
    ['JWT_REFRESH_TTL', '99999999999999999999d'],
    ['JWT_ACCESS_TTL', '1.5h'],
    ['S3_ENDPOINT', 'minio:9000'],
    ['S3_ENDPOINT', 'ftp://minio'],
    ['S3_FORCE_PATH_STYLE', 'maybe'],
    ['APP_ROLE', 'scheduler'],
    ['WORKER_CONCURRENCY', '0'],
    ['WORKER_CONCURRENCY', 'many'],
    ['WORKER_NICE', '-5'],
    ['WORKER_NICE', '20'],
    ['CORS_ORIGINS', 'not-an-origin'],
    ['CORS_ORIGINS', 'https://app.example.com/'],
    ['CORS_ORIGINS', 'https://app.example.com/path'],
    ['CORS_ORIGINS', 'https://ok.example.com,'],
    ['LOG_LEVEL', 'verbose'],
    ['QUARANTINE_RETENTION_DAYS', 'a month'],
    ['MAX_ACTIVE_OPERATIONS_PER_USER', '0'],
    ['WATCH_LEASE_MS', '999'],
    ['WATCH_LEASE_MS', '15s'],
    ['MAX_WATCHES_PER_USER', '0'],
    ['REDIS_PREFIX', 'has spaces'],
  ])('%s=%j stops start-up with one line naming it', (name, value) => {
    configError({ [name]: value }, name);
  });

  it('keeps the error on one line even when the value holds a line break', () => {
    configError({ PORT: '30\n00' }, 'PORT');
    configError({ LOG_LEVEL: 'info\nFAKE LOG LINE' }, 'LOG_LEVEL');
    configError({ APP_ROLE: 'api\r\nworker' }, 'APP_ROLE');
  });
});

describe('parseDuration', () => {
  it.each([
    ['900', 900],
    ['900s', 900],
    ['15m', 900],
    ['12h', 43_200],
    ['30d', 2_592_000],
    ['1', 1],
  ])('%s is %d seconds', (raw, seconds) => {
    expect(parseDuration('JWT_ACCESS_TTL', raw)).toBe(seconds);
  });

  it.each(['', 'm', '15 minutes', '1w', '1.5h', '0', '0m', '-1'])('refuses %j', (raw) => {
    expect(() => parseDuration('JWT_ACCESS_TTL', raw)).toThrow(ConfigError);
  });
});

describe('the default REDIS_PREFIX', () => {
  it('names the database, so deployments with their own databases share a Redis without meeting', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://app@db/files_a' }).redisPrefix).toBe('fo:files_a');
    expect(loadConfig({ DATABASE_URL: 'postgres://app@db/files_b' }).redisPrefix).toBe('fo:files_b');
    expect(loadConfig({ DATABASE_URL: 'postgres://app@db/files_a', REDIS_PREFIX: 'shared' }).redisPrefix).toBe(
      'shared',
    );
  });

  it('stays a valid prefix whatever the database is called', () => {
    expect(defaultRedisPrefix('postgres://app@db/we%20ird%2A%7Bname%7D')).toBe('fo:we_ird__name_');
    expect(defaultRedisPrefix('postgres://app@db/')).toBe('fo');
    expect(defaultRedisPrefix(`postgres://app@db/${'x'.repeat(100)}`)).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
    expect(defaultRedisPrefix('postgres://app@db/%E0%A4%A')).toBe('fo');
  });
});

describe('TRUST_PROXY', () => {
  it('is off unless set', () => {
    expect(parseTrustProxy(undefined)).toBe(false);
    expect(parseTrustProxy('false')).toBe(false);
    expect(parseTrustProxy('0')).toBe(false);
  });

  it('takes a hop count or a list of addresses and CIDR ranges', () => {
    expect(parseTrustProxy('2')).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.1,fd00::/8 , loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '192.168.1.1',
      'fd00::/8',
      'loopback',
    ]);
  });

  it.each(['true', 'TRUE', '33', '10.0.0.0/33', 'fd00::/129', 'proxy.example.com', '10.0.0.1/8/9', '1.2.3', ','])(
    'refuses %j with one line naming TRUST_PROXY',
    (raw) => {
      configError({ TRUST_PROXY: raw }, 'TRUST_PROXY');
    },
  );
});

describe('LOG_FORMAT', () => {
  it('is pretty in development at a terminal, JSON in production, in tests and when piped', () => {
    expect(loadConfig({}, true).logFormat).toBe('pretty');
    expect(loadConfig({ NODE_ENV: 'development' }, true).logFormat).toBe('pretty');
    expect(loadConfig({}, false).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'test' }, true).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) }, true).logFormat).toBe('json');
  });

  it('can be chosen, and refuses anything else', () => {
    expect(loadConfig({ LOG_FORMAT: 'pretty' }, false).logFormat).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'JSON' }, true).logFormat).toBe('json');
    configError({ LOG_FORMAT: 'xml' }, 'LOG_FORMAT');
  });
});
