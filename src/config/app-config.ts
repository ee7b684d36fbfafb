import { randomBytes } from 'node:crypto';
import path from 'node:path';

export type AppRole = 'api' | 'worker' | 'all';

/** Typed, validated configuration. Built once at start-up from the environment. */
export interface AppConfig {
  nodeEnv: string;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  /** Prefix for every Redis key this instance writes (queues, throttling); tests isolate on it. */
  redisPrefix: string;
  jwtSecret: string;
  jwtSecretGenerated: boolean;
  jwtAccessTtlSeconds: number;
  jwtRefreshTtlSeconds: number;
  storageLocalRoot: string;
  /**
   * STORAGE_FILE_LAYER: how local storage reaches files. `dirfd`: pinned directory descriptors
   * (openat/statx/renameat2 through koffi; immune to folders swapped for links); `path`: the
   * path-based fallback; `auto` (default): dirfd where it loads (Linux with glibc), else path.
   */
  storageFileLayer: 'auto' | 'dirfd' | 'path';
  s3: {
    endpoint?: string;
    region: string;
    bucket?: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    forcePathStyle: boolean;
    checksumWhenRequired: boolean;
  };
  appRole: AppRole;
  workerConcurrency: number;
  /**
   * How long a worker's lock on a running job lasts without renewal, and how often workers look
   * for jobs whose lock lapsed (their worker died) to run them again. Bull's default is 30 s.
   */
  jobLockMs: number;
  corsOrigins: string[] | true;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  quarantineRetentionDays: number;
  maxActiveOperationsPerUser: number;
  /** How often workers look for operations whose job was lost (Redis restart, crashes). */
  recoveryIntervalMs: number;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`; open otherwise. */
  metricsToken?: string;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function fail(name: string, problem: string): never {
  // One line, always: a value with a line break must not split the message (or forge a log line).
  throw new ConfigError(`Invalid configuration: ${name} ${problem.replace(/[\r\n]+/g, ' ')}`);
}

/** A value as it appears in an error: quoted, escaped, and cut when long. */
function shown(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}...` : raw);
}

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.trim();
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) fail(name, `must be a whole number, got ${shown(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) fail(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  return fail(name, `must be true or false, got ${shown(raw)}`);
}

function url(env: Env, name: string, fallback: string, protocols: string[]): string {
  const value = str(env, name, fallback);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return fail(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    fail(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return value;
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
/** Ten years: longer lifetimes are mistakes, and far larger ones make token expiry dates invalid. */
const MAX_DURATION_SECONDS = 3650 * 86400;

/** Parses "900", "900s", "15m", "12h", "30d" into seconds. */
export function parseDuration(name: string, raw: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(raw.trim());
  if (!match) fail(name, `must be a duration like 900, 15m, 12h or 30d, got ${shown(raw)}`);
  const seconds = Number(match[1]) * DURATION_UNITS[match[2] || 's'];
  if (seconds <= 0) fail(name, 'must be longer than 0 seconds');
  if (seconds > MAX_DURATION_SECONDS) fail(name, `must be at most 3650d, got ${shown(raw)}`);
  return seconds;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name, fallback);
  if (!(allowed as readonly string[]).includes(raw))
    fail(name, `must be one of ${allowed.join(', ')}, got ${shown(raw)}`);
  return raw as T;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export function loadConfig(env: Env = process.env): AppConfig {
  const nodeEnv = str(env, 'NODE_ENV', 'development');
  const production = nodeEnv === 'production';

  const port = int(env, 'PORT', 3000, 0, 65535);
  const databaseUrl = url(env, 'DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/fileorganizer', [
    'postgres:',
    'postgresql:',
  ]);
  const redisUrl = url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']);

  let jwtSecret = optional(env, 'JWT_SECRET');
  let jwtSecretGenerated = false;
  if (jwtSecret === undefined) {
    if (production) fail('JWT_SECRET', 'is required when NODE_ENV=production');
    jwtSecret = randomBytes(32).toString('hex');
    jwtSecretGenerated = true;
  } else if (Buffer.byteLength(jwtSecret) < 32 && production) {
    fail('JWT_SECRET', 'must be at least 32 bytes long in production');
  }

  const appRole = str(env, 'APP_ROLE', 'all');
  if (appRole !== 'api' && appRole !== 'worker' && appRole !== 'all') {
    fail('APP_ROLE', `must be api, worker or all, got ${shown(appRole)}`);
  }

  const logLevel = str(env, 'LOG_LEVEL', 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    fail('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got ${shown(logLevel)}`);
  }

  const cors = optional(env, 'CORS_ORIGINS');
  let corsOrigins: string[] | true = true;
  if (cors !== undefined && cors !== '*') {
    corsOrigins = cors.split(',').map((origin) => origin.trim());
    for (const origin of corsOrigins) {
      let parsed: string | undefined;
      try {
        parsed = new URL(origin).origin;
      } catch {
        parsed = undefined;
      }
      // A browser sends the bare origin ("https://app.example.com"): one with a path or a
      // trailing slash would never match, and CORS would fail without saying why.
      if (parsed !== origin) {
        fail(
          'CORS_ORIGINS',
          `must be * or a comma-separated list of origins like https://app.example.com, got ${shown(origin)}`,
        );
      }
    }
  }

  const s3Endpoint = optional(env, 'S3_ENDPOINT');
  if (s3Endpoint !== undefined) url(env, 'S3_ENDPOINT', s3Endpoint, ['http:', 'https:']);
  const s3AccessKeyId = optional(env, 'S3_ACCESS_KEY_ID');
  const s3SecretAccessKey = optional(env, 'S3_SECRET_ACCESS_KEY');
  if ((s3AccessKeyId === undefined) !== (s3SecretAccessKey === undefined)) {
    fail(
      s3AccessKeyId === undefined ? 'S3_ACCESS_KEY_ID' : 'S3_SECRET_ACCESS_KEY',
      'is required with the other S3 key',
    );
  }
  const redisPrefix = str(env, 'REDIS_PREFIX', 'fo');
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(redisPrefix)) {
    fail('REDIS_PREFIX', 'may only contain letters, digits and _ . : -');
  }

  return {
    nodeEnv,
    port,
    databaseUrl,
    redisUrl,
    redisPrefix,
    jwtSecret,
    jwtSecretGenerated,
    jwtAccessTtlSeconds: parseDuration('JWT_ACCESS_TTL', str(env, 'JWT_ACCESS_TTL', '15m')),
    jwtRefreshTtlSeconds: parseDuration('JWT_REFRESH_TTL', str(env, 'JWT_REFRESH_TTL', '30d')),
    storageLocalRoot: path.resolve(str(env, 'STORAGE_LOCAL_ROOT', './data/files')),
    storageFileLayer: oneOf(env, 'STORAGE_FILE_LAYER', ['auto', 'dirfd', 'path'] as const, 'auto'),
    s3: {
      endpoint: s3Endpoint,
      region: str(env, 'S3_REGION', 'us-east-1'),
      bucket: optional(env, 'S3_BUCKET'),
      accessKeyId: s3AccessKeyId,
      secretAccessKey: s3SecretAccessKey,
      forcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE', false),
      checksumWhenRequired: bool(env, 'S3_CHECKSUM_WHEN_REQUIRED', true),
    },
    appRole,
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 2, 1, 64),
    jobLockMs: int(env, 'JOB_LOCK_MS', 30_000, 1000, 3_600_000),
    corsOrigins,
    logLevel: logLevel as AppConfig['logLevel'],
    quarantineRetentionDays: int(env, 'QUARANTINE_RETENTION_DAYS', 30, 0, 36500),
    maxActiveOperationsPerUser: int(env, 'MAX_ACTIVE_OPERATIONS_PER_USER', 4, 1, 1000),
    recoveryIntervalMs: int(env, 'RECOVERY_INTERVAL_MS', 60_000, 500, 3_600_000),
    metricsToken: optional(env, 'METRICS_TOKEN'),
  };
}
