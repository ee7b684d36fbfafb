import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { Writable } from 'node:stream';
import { requestIdMiddleware } from '../middleware/request-id.middleware.js';
import { httpLogger } from './http-logger.js';
import { currentLogContext } from './log-context.js';
import { createRootLogger } from './logger.js';

class Lines extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    callback();
  }
}

/** An express app with the access logger, a fake authentication and a few routes. */
async function serve(level: string): Promise<{ url: string; lines: Lines; close: () => Promise<void> }> {
  const lines = new Lines();
  const root = createRootLogger({ level, role: 'api', destination: lines });
  const app = express();
  app.use(requestIdMiddleware);
  app.use(httpLogger(root));
  app.use((request: Request, _response: Response, next: NextFunction) => {
    const user = request.header('x-user');
    if (user) (request as Request & { user?: { id: string } }).user = { id: user };
    next();
  });
  app.get('/api/v1/operations/:id', (request, response) => {
    root.info('inside');
    response.json({ id: request.params.id, context: currentLogContext() });
  });
  app.get('/boom', (_request, response) => {
    response.status(500).json({ statusCode: 500 });
  });
  app.get('/down', (_request, response) => {
    response.status(503).json({ statusCode: 503 });
  });
  app.get('/health/live', (_request, response) => {
    response.json({ ok: true });
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    lines,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Entry = Record<string, unknown>;

async function settle(lines: Lines, count: number): Promise<Entry[]> {
  for (let i = 0; i < 100 && lines.lines.length < count; i++) await new Promise((r) => setTimeout(r, 10));
  return lines.lines.map((line) => JSON.parse(line) as Entry);
}

/** Drops the fields that differ between runs (time, pid, duration). */
function stable(entry: Entry): Entry {
  const { time, pid, durationMs, ...rest } = entry;
  expect(typeof time).toBe('string');
  expect(typeof pid).toBe('number');
  if ('res' in entry) expect(typeof durationMs).toBe('number');
  return rest;
}

describe('httpLogger (the access log)', () => {
  it('writes one line per request: request id, user, operation, redacted URL, status and duration', async () => {
    const s = await serve('info');
    try {
      const id = '0b6a7c52-9a4e-4c1e-8a34-3f4f8f2d1a10';
      const answer = await fetch(`${s.url}/api/v1/operations/${id}?token=secret-123&page=2`, {
        headers: { 'x-request-id': 'req-1', 'x-user': 'u1', 'user-agent': 'probe/1' },
      });
      const body = (await answer.json()) as { context: Entry };
      // The request id is in the log context of everything the request runs.
      expect(body.context).toEqual({ requestId: 'req-1' });
      const entries = await settle(s.lines, 2);
      expect(entries.map(stable)).toEqual([
        { level: 'info', service: 'fileorganizer', role: 'api', requestId: 'req-1', msg: 'inside' },
        {
          level: 'info',
          service: 'fileorganizer',
          role: 'api',
          requestId: 'req-1',
          req: {
            method: 'GET',
            url: `/api/v1/operations/${id}?token=%5Bredacted%5D&page=2`,
            userAgent: 'probe/1',
            remoteAddress: '127.0.0.1',
          },
          userId: 'u1',
          operationId: id,
          res: { statusCode: 200 },
          msg: `GET /api/v1/operations/${id}?token=%5Bredacted%5D&page=2 200`,
        },
      ]);
      // The same keys in the same order as pino-http wrote them.
      expect(Object.keys(entries[1])).toEqual([
        'level',
        'time',
        'service',
        'role',
        'pid',
        'requestId',
        'req',
        'userId',
        'operationId',
        'res',
        'durationMs',
        'msg',
      ]);
    } finally {
      await s.close();
    }
  });

  it('logs a 500 as an error and a 503 as a warning, without an invented error object', async () => {
    const s = await serve('info');
    try {
      await fetch(`${s.url}/boom`, { headers: { 'x-request-id': 'b' } });
      await fetch(`${s.url}/down`, { headers: { 'x-request-id': 'd' } });
      const entries = (await settle(s.lines, 2)).map(stable);
      expect(entries).toEqual([
        expect.objectContaining({ level: 'error', requestId: 'b', res: { statusCode: 500 }, msg: 'GET /boom 500' }),
        expect.objectContaining({ level: 'warn', requestId: 'd', res: { statusCode: 503 }, msg: 'GET /down 503' }),
      ]);
      for (const entry of entries) expect(entry).not.toHaveProperty('err');
    } finally {
      await s.close();
    }
  });

  it('skips /health/live, and writes nothing below the configured level', async () => {
    const s = await serve('warn');
    try {
      await fetch(`${s.url}/health/live`);
      await fetch(`${s.url}/api/v1/operations/x`, { headers: { 'x-request-id': 'quiet' } });
      await fetch(`${s.url}/down`, { headers: { 'x-request-id': 'loud' } });
      const entries = await settle(s.lines, 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(s.lines.lines).toHaveLength(1);
      expect(entries[0]).toMatchObject({ level: 'warn', requestId: 'loud', msg: 'GET /down 503' });
    } finally {
      await s.close();
    }
    const info = await serve('info');
    try {
      await fetch(`${info.url}/health/live`);
      await fetch(`${info.url}/api/v1/operations/x`, { headers: { 'x-request-id': 'after' } });
      const entries = await settle(info.lines, 2);
      expect(entries.some((entry) => String(entry.msg).includes('/health/live'))).toBe(false);
    } finally {
      await info.close();
    }
  });
});
