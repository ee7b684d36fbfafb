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
      corsOrigins: true,
      logLevel: 'info',
      quarantineRetentionDays: 30,
      maxActiveOperationsPerUser: 4,
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
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
      LOG_LEVEL: 'DEBUG',
      QUARANTINE_RETENTION_DAYS: '0',
      MAX_ACTIVE_OPERATIONS_PER_USER: '10',
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
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
      logLevel: 'debug',
      quarantineRetentionDays: 0,
      maxActiveOperationsPerUser: 10,
    });
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
    ['CORS_ORIGINS', 'not-an-origin'],
    ['CORS_ORIGINS', 'https://app.example.com/'],
    ['CORS_ORIGINS', 'https://app.example.com/path'],
    ['CORS_ORIGINS', 'https://ok.example.com,'],
    ['LOG_LEVEL', 'verbose'],
    ['QUARANTINE_RETENTION_DAYS', 'a month'],
    ['MAX_ACTIVE_OPERATIONS_PER_USER', '0'],
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
