import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import os from 'node:os';
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
  /** How long a request's login check is reused (0: every request asks the database); see PrincipalCache. */
  authSessionCacheMs: number;
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
   * WORKER_NICE: the scheduling niceness (0-19) a process with APP_ROLE=worker gives all its
   * threads at start-up, so that an API on the same host answers before the file work goes on.
   * 0 leaves it as started. Not applied with APP_ROLE=all (one process serves both).
   */
  workerNice: number;
  /**
   * How long a worker's lock on a running job lasts without renewal, and how often workers look
   * for jobs whose lock lapsed (their worker died) to run them again. Bull's default is 30 s.
   */
  jobLockMs: number;
  corsOrigins: string[] | true;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** `pretty` (readable lines) in development at a terminal or with LOG_FORMAT=pretty; JSON lines otherwise. */
  logFormat: 'json' | 'pretty';
  quarantineRetentionDays: number;
  maxActiveOperationsPerUser: number;
  /** How often workers look for operations whose job was lost (Redis restart, crashes). */
  recoveryIntervalMs: number;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`; open otherwise, except in production. */
  metricsToken?: string;
  /**
   * Express's `trust proxy`: false (the default: X-Forwarded-* are ignored), the number of proxy
   * hops in front of the service, or the addresses/CIDR ranges of the proxies to believe.
   */
  trustProxy: false | number | string[];
  /** METRICS_ENABLED=false: GET /metrics answers 404 in every role. */
  metricsEnabled: boolean;
  /**
   * WATCH_LEASE_MS: how long a worker's claim on a watched folder lasts without renewal (renewed
   * every third of it); a watch whose worker died moves to another worker within about this long.
   */
  watchLeaseMs: number;
  /** MAX_WATCHES_PER_USER: watched folders one user may have (409 beyond). */
  maxWatchesPerUser: number;
  /** Abuse limits: rate limits (fixed windows in Redis, shared by every API process) and caps. */
  throttles: ThrottleConfig;
}

export interface RateWindow {
  limit: number;
  windowSeconds: number;
}

export interface ThrottleConfig {
  /** Password hashes (argon2) running at once in this process; more wait in a queue. */
  argon2Concurrency: number;
  /** Hashes that may wait for a slot; beyond it the request answers 503 with Retry-After. */
  argon2QueueSize: number;
  /** Signups per client address. */
  signup: RateWindow;
  /** Login attempts per client address, whatever the account. */
  loginPerIp: RateWindow;
  /** Failed logins per account and client address before a lockout of that pair. */
  loginPerAccountIp: RateWindow;
  /** The first lockout of an account+address pair; each further one doubles, up to the maximum. */
  loginLockoutSeconds: number;
  loginLockoutMaxSeconds: number;
  /** Failed X-API-Key authentications per client address. */
  apiKeyFailuresPerIp: RateWindow;
  /** Operations created (create, apply, rollback) per user. */
  operationsCreate: RateWindow;
  maxApiKeysPerUser: number;
  maxCategoryRulesPerUser: number;
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

/**
 * `fo:<database name>`: two deployments with their own databases on one Redis then have their own
 * queues, rate limits and progress channels without anyone setting REDIS_PREFIX. Characters the
 * prefix does not allow are replaced, so any database name gives a valid prefix.
 */
export function defaultRedisPrefix(databaseUrl: string): string {
  let database: string;
  try {
    database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  } catch {
    database = '';
  }
  const safe = database.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 61);
  return safe ? `fo:${safe}` : 'fo';
}

/** Names proxy-addr understands besides addresses and ranges. */
const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY: unset, `false` or `0` trusts no proxy; a whole number is a hop count; anything else
 * is a comma-separated list of proxy addresses or CIDR ranges. `true` (trust every hop) is refused:
 * it would let any client choose its own address by sending X-Forwarded-For.
 */
export function parseTrustProxy(raw: string | undefined): false | number | string[] {
  if (raw === undefined || /^(false|0)$/i.test(raw)) return false;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 32) fail('TRUST_PROXY', `must be at most 32 hops, got ${hops}`);
    return hops;
  }
  if (/^true$/i.test(raw)) {
    fail(
      'TRUST_PROXY',
      'must be a hop count or a list of proxy addresses, not true (any client could claim any address)',
    );
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (TRUST_PROXY_NAMES.has(entry)) continue;
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || extra !== undefined || !validBits) {
      fail('TRUST_PROXY', `must be a hop count or comma-separated IP addresses or CIDR ranges, got ${shown(entry)}`);
    }
  }
  return entries;
}

/** A limit and its window: `<NAME>_LIMIT` and `<NAME>_WINDOW` (a duration). */
function rateWindow(env: Env, name: string, limit: number, window: string): RateWindow {
  return {
    limit: int(env, `${name}_LIMIT`, limit, 1, 1_000_000),
    windowSeconds: parseDuration(`${name}_WINDOW`, str(env, `${name}_WINDOW`, window)),
  };
}

/**
 * argon2 runs on libuv's thread pool (UV_THREADPOOL_SIZE, default 4), which file-system calls
 * share: by default hashes get one slot per core but always leave one pool thread free.
 */
function defaultArgon2Concurrency(env: Env): number {
  const pool = Number(env.UV_THREADPOOL_SIZE) > 0 ? Number(env.UV_THREADPOOL_SIZE) : 4;
  return Math.max(1, Math.min(os.availableParallelism(), pool - 1));
}

function loadThrottles(env: Env): ThrottleConfig {
  const lockout = parseDuration('LOGIN_LOCKOUT', str(env, 'LOGIN_LOCKOUT', '60s'));
  const lockoutMax = parseDuration('LOGIN_LOCKOUT_MAX', str(env, 'LOGIN_LOCKOUT_MAX', '1h'));
  if (lockoutMax < lockout) fail('LOGIN_LOCKOUT_MAX', 'must be at least LOGIN_LOCKOUT');
  return {
    argon2Concurrency: int(env, 'ARGON2_CONCURRENCY', defaultArgon2Concurrency(env), 1, 256),
    argon2QueueSize: int(env, 'ARGON2_QUEUE_SIZE', 64, 0, 100_000),
    signup: rateWindow(env, 'SIGNUP_RATE', 20, '10m'),
    loginPerIp: rateWindow(env, 'LOGIN_IP_RATE', 100, '1m'),
    loginPerAccountIp: rateWindow(env, 'LOGIN_FAILURE_RATE', 10, '1m'),
    loginLockoutSeconds: lockout,
    loginLockoutMaxSeconds: lockoutMax,
    apiKeyFailuresPerIp: rateWindow(env, 'API_KEY_FAILURE_RATE', 30, '1m'),
    operationsCreate: rateWindow(env, 'OPERATIONS_CREATE_RATE', 60, '1m'),
    maxApiKeysPerUser: int(env, 'MAX_API_KEYS_PER_USER', 25, 1, 100_000),
    maxCategoryRulesPerUser: int(env, 'MAX_CATEGORY_RULES_PER_USER', 200, 1, 100_000),
  };
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name, fallback);
  if (!(allowed as readonly string[]).includes(raw))
    fail(name, `must be one of ${allowed.join(', ')}, got ${shown(raw)}`);
  return raw as T;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

/**
 * DATABASE_URL alone, validated as loadConfig does: what the TypeORM CLI (ormconfig.ts) needs to
 * migrate, without the service's other settings (a production migration needs no JWT_SECRET).
 */
export function loadDatabaseUrl(env: Env = process.env): string {
  return url(env, 'DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/fileorganizer', ['postgres:', 'postgresql:']);
}

/** `stdoutIsTty`: whether a person watches the output (decides the development log format). */
export function loadConfig(env: Env = process.env, stdoutIsTty = Boolean(process.stdout.isTTY)): AppConfig {
  const nodeEnv = str(env, 'NODE_ENV', 'development');
  const production = nodeEnv === 'production';

  const port = int(env, 'PORT', 3000, 0, 65535);
  const databaseUrl = loadDatabaseUrl(env);
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

  const logFormat = str(env, 'LOG_FORMAT', nodeEnv === 'development' && stdoutIsTty ? 'pretty' : 'json').toLowerCase();
  if (logFormat !== 'json' && logFormat !== 'pretty')
    fail('LOG_FORMAT', `must be json or pretty, got ${shown(logFormat)}`);

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
  const redisPrefix = str(env, 'REDIS_PREFIX', defaultRedisPrefix(databaseUrl));
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
    authSessionCacheMs: int(env, 'AUTH_SESSION_CACHE_MS', 10_000, 0, 60_000),
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
    workerNice: int(env, 'WORKER_NICE', 10, 0, 19),
    jobLockMs: int(env, 'JOB_LOCK_MS', 30_000, 1000, 3_600_000),
    corsOrigins,
    logLevel: logLevel as AppConfig['logLevel'],
    logFormat,
    quarantineRetentionDays: int(env, 'QUARANTINE_RETENTION_DAYS', 30, 0, 36500),
    maxActiveOperationsPerUser: int(env, 'MAX_ACTIVE_OPERATIONS_PER_USER', 4, 1, 1000),
    recoveryIntervalMs: int(env, 'RECOVERY_INTERVAL_MS', 60_000, 500, 3_600_000),
    metricsToken: optional(env, 'METRICS_TOKEN'),
    trustProxy: parseTrustProxy(optional(env, 'TRUST_PROXY')),
    metricsEnabled: bool(env, 'METRICS_ENABLED', true),
    watchLeaseMs: int(env, 'WATCH_LEASE_MS', 15_000, 1000, 600_000),
    maxWatchesPerUser: int(env, 'MAX_WATCHES_PER_USER', 20, 1, 10_000),
    throttles: loadThrottles(env),
  };
}
