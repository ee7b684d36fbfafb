import {
  ArgumentsHost,
  BadRequestException,
  ConflictException,
  HttpException,
  Logger,
  NotFoundException,
  ValidationPipe,
} from '@nestjs/common';
import { IsEmail } from 'class-validator';
import { QueryFailedError } from 'typeorm';
import { DomainError } from '../domain-error.js';
import type { DomainErrorKind } from '../domain-error.js';
import { RateLimiterService } from '../throttling/rate-limiter.service.js';
import { HttpExceptionFilter, isDependencyUnavailable } from './http-exception.filter.js';

const { jest: mocks } = import.meta as unknown as { jest: typeof jest };

class KindError extends DomainError {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
  ) {
    super(message);
  }
}

class SecretPathError extends KindError {
  override get publicMessage(): string {
    return 'something went wrong with a path';
  }
}

class EmailDto {
  @IsEmail()
  email!: string;
}

interface FakeResponse {
  statusCode?: number;
  body?: unknown;
  headers: Record<string, string>;
  headersSent: boolean;
  status(code: number): FakeResponse;
  json(body: unknown): FakeResponse;
  setHeader(name: string, value: string): void;
}

function fakeResponse(): FakeResponse {
  return {
    headers: {},
    headersSent: false,
    status(code) {
      this.statusCode = code;
      return this;
    },
    json(body) {
      this.body = body;
      return this;
    },
    setHeader(name, value) {
      this.headers[name.toLowerCase()] = value;
    },
  };
}

function host(response: FakeResponse, type = 'http'): ArgumentsHost {
  const request = { method: 'POST', originalUrl: '/api/v1/things' };
  return {
    getType: () => type,
    switchToHttp: () => ({ getResponse: () => response, getRequest: () => request }),
  } as unknown as ArgumentsHost;
}

describe('HttpExceptionFilter', () => {
  const filter = new HttpExceptionFilter();
  beforeEach(() => mocks.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined));
  afterEach(() => mocks.restoreAllMocks());

  function render(exception: unknown): FakeResponse {
    const response = fakeResponse();
    filter.catch(exception, host(response));
    return response;
  }

  it.each([
    [new NotFoundException('API key not found'), 404, 'Not Found', 'API key not found'],
    [new ConflictException('taken'), 409, 'Conflict', 'taken'],
    [new HttpException('plain text', 418), 418, "I'm a Teapot", 'plain text'],
    [new HttpException({ message: { nested: true } }, 400), 400, 'Bad Request', 'Bad Request'],
  ])('renders %s as { statusCode, error, message }', (exception, statusCode, error, message) => {
    const response = render(exception);
    expect(response.statusCode).toBe(statusCode);
    expect(response.body).toEqual({ statusCode, error, message });
  });

  it.each([
    ['rejected', 400, 'Bad Request'],
    ['not-found', 404, 'Not Found'],
    ['conflict', 409, 'Conflict'],
    ['unavailable', 503, 'Service Unavailable'],
  ] as const)('renders a domain error of kind %s as %i', (kind, statusCode, error) => {
    expect(render(new KindError(kind, 'what happened')).body).toEqual({ statusCode, error, message: 'what happened' });
  });

  it('tells a client only the public message of a domain error', () => {
    const body = render(new SecretPathError('rejected', '/srv/storage/user/x is a link')).body;
    expect(body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'something went wrong with a path' });
  });

  it('keeps the list of validation messages', async () => {
    const pipe = new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true });
    const error = await pipe
      .transform({ email: 'nope', role: 'admin' }, { type: 'body', metatype: EmailDto })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestException);
    const response = render(error);
    expect(response.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.arrayContaining(['property role should not exist', 'email must be an email']),
    });
  });

  it('sets Retry-After from a 429', () => {
    const response = render(RateLimiterService.tooMany('slow down', 42));
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('42');
    expect(response.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests', message: 'slow down' });
  });

  it.each([
    ['entity.too.large', 413, 'Payload Too Large'],
    ['entity.parse.failed', 400, 'Bad Request'],
    ['encoding.unsupported', 415, 'Unsupported Media Type'],
  ])('maps the body parser error %s to %d', (type, statusCode, error) => {
    const parserError = Object.assign(new Error('raw parser text at /srv/app/node_modules/x.js:1:1'), {
      type,
      status: statusCode,
    });
    const response = render(parserError);
    expect(response.statusCode).toBe(statusCode);
    expect(response.body).toMatchObject({ statusCode, error });
    expect(JSON.stringify(response.body)).not.toContain('node_modules');
  });

  it('answers a bare 500 for anything else, with no SQL, stack or path, and logs the cause', () => {
    const sql = new QueryFailedError(
      'SELECT password_hash FROM users WHERE id = $1',
      ['x'],
      new Error('relation "users" does not exist'),
    );
    for (const exception of [sql, new Error('ENOENT: /srv/data/secret'), 'a string', null, { status: 200 }]) {
      const response = render(exception);
      expect(response.statusCode).toBe(500);
      expect(response.body).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        message: 'Internal server error',
      });
    }
    expect(Logger.prototype.error).toHaveBeenCalled();
  });

  it('answers 503 when PostgreSQL or Redis cannot be reached, without their error text', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
    const dropped = new QueryFailedError(
      'SELECT 1',
      [],
      Object.assign(new Error('database "x" does not exist'), {
        code: '3D000',
      }),
    );
    const terminated = new QueryFailedError('SELECT 1', [], Object.assign(new Error('terminating'), { code: '57P01' }));
    const redis = Object.assign(new Error('Reached the max retries per request limit'), {
      name: 'MaxRetriesPerRequestError',
    });
    mocks.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    for (const exception of [refused, dropped, terminated, redis, new Error('Connection is closed.')]) {
      expect(isDependencyUnavailable(exception)).toBe(true);
      const response = render(exception);
      expect(response.statusCode).toBe(503);
      expect(response.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      expect(JSON.stringify(response.body)).not.toMatch(/10\.0\.0\.5|does not exist|SELECT|max retries/);
    }
    const syntax = new QueryFailedError('SELEC 1', [], Object.assign(new Error('syntax error'), { code: '42601' }));
    expect(isDependencyUnavailable(syntax)).toBe(false);
    expect(isDependencyUnavailable(Object.assign(new Error('nope'), { code: 'ENOENT' }))).toBe(false);
  });

  it('writes nothing when the headers were already sent, and ignores non-HTTP contexts', () => {
    const sent = fakeResponse();
    sent.headersSent = true;
    filter.catch(new NotFoundException(), host(sent));
    expect(sent.statusCode).toBeUndefined();
    const ws = fakeResponse();
    filter.catch(new NotFoundException(), host(ws, 'ws'));
    expect(ws.statusCode).toBeUndefined();
  });
});
