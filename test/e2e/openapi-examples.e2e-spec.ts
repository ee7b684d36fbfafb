import { HttpException } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { STATUS_CODES } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { HttpExceptionFilter } from '../../src/common/filters/http-exception.filter.js';
import { CreateOperationDto } from '../../src/modules/operations/dto/create-operation.dto.js';
import { OPERATION_TYPES } from '../../src/modules/operations/operation.types.js';
import { signUpAdmin } from '../utils/admin.js';
import { createOperation, userFolder, waitForOperation, writeTree } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

/*
 * The examples Swagger UI shows are sent to the real app here, or compared with what it really
 * answers, so a wrong one cannot come back. That every example fits its schema is checked by
 * `redocly lint` (no-invalid-media-type-examples is an error), which openapi-spec runs on the
 * committed document, itself checked equal to the served one.
 */

interface Media {
  schema?: {
    $ref?: string;
    oneOf?: { $ref: string }[];
    discriminator?: { propertyName: string; mapping: Record<string, string> };
  };
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}
interface Operation {
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { description: string; content?: Record<string, Media> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: Record<string, { enum?: string[] }>; required?: string[] }> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
/** Fields the filter may add to `{ statusCode, error, message }`: retryAfter (429, busy 503); health's status and details. */
const ERROR_EXTRAS = new Set(['retryAfter', 'status', 'details']);

function examplesOf(media: Media): unknown[] {
  if (media.example !== undefined) return [media.example];
  return Object.values(media.examples ?? {}).map((example) => example.value);
}

describe('OpenAPI examples (e2e)', () => {
  let t: TestApp;
  let document: Document;
  let user: SignedUpUser;
  const operations: [string, string, Operation][] = [];

  beforeAll(async () => {
    t = await createTestApp();
    document = (await t.http().get('/docs-json').expect(200)).body as Document;
    for (const [route, item] of Object.entries(document.paths)) {
      for (const method of METHODS) if (item[method]) operations.push([method, route, item[method]]);
    }
    user = await signUp(t, 'examples');
  });
  afterAll(async () => {
    await t.close();
  });

  const example = (method: string, route: string, status: number) => {
    const media = document.paths[route][method].responses[String(status)]?.content?.['application/json'];
    if (!media) throw new Error(`${method.toUpperCase()} ${route} documents no JSON ${status}`);
    return examplesOf(media)[0];
  };
  const createBody = () => document.paths['/api/v1/operations'].post.requestBody!.content['application/json'];

  it('every response status of every operation has an example, and error examples are what the filter sends', () => {
    const problems: string[] = [];
    const filter = new HttpExceptionFilter();
    for (const [method, route, operation] of operations) {
      for (const [status, response] of Object.entries(operation.responses)) {
        const where = `${method.toUpperCase()} ${route} ${status}`;
        const contents = Object.entries(response.content ?? {});
        if (status === '204') {
          if (contents.length) problems.push(`${where}: a 204 has no body`);
          continue;
        }
        if (!contents.length) problems.push(`${where}: no content`);
        for (const [type, media] of contents) {
          const values = examplesOf(media);
          if (!values.length) problems.push(`${where} ${type}: no example`);
          if (Number(status) < 400) continue;
          if (type !== 'application/json') problems.push(`${where}: errors are JSON, not ${type}`);
          for (const value of values) {
            const body = value as Record<string, unknown>;
            const expected = { statusCode: Number(status), error: STATUS_CODES[Number(status)] };
            if (body.statusCode !== expected.statusCode || body.error !== expected.error) {
              problems.push(`${where}: example says ${String(body.statusCode)} ${String(body.error)}`);
            }
            const message = body.message;
            const messageOk = Array.isArray(message)
              ? message.length > 0 && message.every((line) => typeof line === 'string' && line !== '')
              : typeof message === 'string' && message !== '';
            if (!messageOk) problems.push(`${where}: example has no message`);
            const unknown = Object.keys(body).filter((key) => !['statusCode', 'error', 'message'].includes(key));
            if (unknown.some((key) => !ERROR_EXTRAS.has(key)))
              problems.push(`${where}: unknown fields ${unknown.join()}`);
            // The filter, given an exception that carries this body, must answer exactly this body.
            const rendered = filter.toBody(new HttpException(body, Number(status)));
            if (!isDeepStrictEqual({ ...rendered }, { ...body })) {
              problems.push(`${where}: the filter would send ${JSON.stringify(rendered)}`);
            }
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('each route-specific error example is what the route really answers', async () => {
    const auth = { Authorization: `Bearer ${user.accessToken}` };
    const cases: [string, string, number, () => Promise<{ status: number; body: unknown }>][] = [
      ['get', '/api/v1/operations/{id}', 404, () => t.http().get(`/api/v1/operations/${randomUUID()}`).set(auth)],
      ['get', '/api/v1/operations/{id}', 400, () => t.http().get('/api/v1/operations/not-a-uuid').set(auth)],
      ['get', '/api/v1/operations/{id}', 401, () => t.http().get(`/api/v1/operations/${randomUUID()}`)],
      [
        'post',
        '/api/v1/operations',
        400,
        () => t.http().post('/api/v1/operations').set(auth).send({ type: 'organize', rootPath: 7 }),
      ],
      [
        'post',
        '/api/v1/operations',
        415,
        () =>
          t
            .http()
            .post('/api/v1/operations')
            .set(auth)
            .set('Content-Type', 'application/x-www-form-urlencoded')
            .send('type=organize&rootPath=inbox'),
      ],
      ['get', '/api/v1/auth/me', 401, () => t.http().get('/api/v1/auth/me')],
      [
        'post',
        '/api/v1/auth/login',
        401,
        () => t.http().post('/api/v1/auth/login').send({ email: user.email, password: 'not the password' }),
      ],
      [
        'post',
        '/api/v1/auth/signup',
        409,
        () => t.http().post('/api/v1/auth/signup').send({ email: user.email, password: 'another password' }),
      ],
      [
        'delete',
        '/api/v1/auth/api-keys/{id}',
        404,
        () => t.http().delete(`/api/v1/auth/api-keys/${randomUUID()}`).set(auth),
      ],
      ['get', '/api/v1/admin/users', 403, () => t.http().get('/api/v1/admin/users').set(auth)],
      ['get', '/api/v1/watches/{id}', 404, () => t.http().get(`/api/v1/watches/${randomUUID()}`).set(auth)],
      ['get', '/api/v1/watches/{id}', 400, () => t.http().get('/api/v1/watches/not-a-uuid').set(auth)],
    ];
    for (const [method, route, status, send] of cases) {
      const answer = await send();
      expect({ route: `${method.toUpperCase()} ${route}`, status: answer.status, body: answer.body }).toEqual({
        route: `${method.toUpperCase()} ${route}`,
        status,
        body: example(method, route, status),
      });
    }
  });

  it('every /api route that takes a body documents the 415 a non-JSON body gets, and gets it', async () => {
    const withBody = operations.filter(([, route, operation]) => route.startsWith('/api/') && operation.requestBody);
    expect(withBody.length).toBeGreaterThan(5);
    for (const [method, route, operation] of withBody) {
      expect({ route, documented: operation.responses['415'] !== undefined }).toEqual({ route, documented: true });
      const url = route.replace(/\{[^}]+\}/g, randomUUID());
      const answer = await t
        .http()
        [method as 'post'](url)
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .send('name=x');
      expect({ route, status: answer.status, body: answer.body }).toEqual({
        route,
        status: 415,
        body: example(method, route, 415),
      });
    }
  });

  it('the discriminator of POST /operations maps every type the DTO accepts, each with its own example', async () => {
    const { schema, examples } = createBody();
    const isIn = getMetadataStorage()
      .getTargetValidationMetadatas(CreateOperationDto, '', true, false)
      .find((rule) => rule.propertyName === 'type' && rule.name === 'isIn');
    const accepted = [...(isIn?.constraints[0] as string[])].sort();
    expect(accepted.length).toBeGreaterThan(0);

    expect(schema?.discriminator?.propertyName).toBe('type');
    const mapping = schema?.discriminator?.mapping ?? {};
    expect(Object.keys(mapping).sort()).toEqual(accepted);
    expect(schema?.oneOf?.map((entry) => entry.$ref).sort()).toEqual(Object.values(mapping).sort());
    for (const [type, ref] of Object.entries(mapping)) {
      const shape = document.components.schemas[ref.replace('#/components/schemas/', '')];
      expect({ type, enum: shape.properties?.type?.enum, required: shape.required }).toEqual({
        type,
        enum: [type],
        required: expect.arrayContaining(['type']),
      });
    }
    const exampleTypes = Object.values(examples ?? {}).map((entry) => (entry.value as { type: string }).type);
    expect(exampleTypes.sort()).toEqual(accepted);

    // A type the document leaves out is one the API refuses.
    for (const type of OPERATION_TYPES.filter((candidate) => !accepted.includes(candidate))) {
      await createOperation(t, user, { type }, 400);
    }
  });

  it('every POST /operations example, sent as is, is accepted and runs to completion', async () => {
    const values = Object.values(createBody().examples ?? {}).map((entry) => entry.value as Record<string, unknown>);
    // The organize example names `inbox`; a duplicate gives the cleanup example work to do. The
    // find_similar_images example names `photos`.
    writeTree(userFolder(t, user), {
      'inbox/a.jpg': 'same bytes',
      'inbox/a copy.jpg': 'same bytes',
      'inbox/b.pdf': 'b',
      'photos/not-really.jpg': 'not an image',
    });
    const order = ['organize', 'cleanup_duplicates'];
    values.sort((a, b) => order.indexOf(String(a.type)) - order.indexOf(String(b.type)));
    let organized: string | undefined;
    for (const value of values) {
      let body = value;
      if (value.type === 'cleanup_duplicates') {
        // The only part of an example that cannot be sent as is: the id of one's own organize.
        expect(organized).toBeDefined();
        body = { ...value, sourceOperationId: organized };
      } else if (value.type !== 'organize' && value.type !== 'find_similar_images') {
        throw new Error(`no recipe to send the ${String(value.type)} example: add one here`);
      }
      const created = await createOperation(t, user, body, 202);
      const ended = await waitForOperation(t, user, created.id);
      expect({ type: value.type, status: ended.status, error: ended.error }).toEqual({
        type: value.type,
        status: 'completed',
        error: null,
      });
      if (value.type === 'organize') organized = created.id;
    }
    expect(organized).toBeDefined();
  }, 60_000);

  it('every other request-body example, sent as is, gets the documented success status', async () => {
    const sent = new Set<string>();
    const send = async (
      method: string,
      route: string,
      options: { token?: string; params?: Record<string, string>; replace?: Record<string, unknown> } = {},
    ) => {
      const operation = document.paths[route][method];
      const [value] = examplesOf(operation.requestBody!.content['application/json']);
      expect({ route, example: value }).toEqual({ route, example: expect.any(Object) });
      // Only tokens and ids of the caller's own things are replaced; every other field goes as is.
      const body = { ...(value as Record<string, unknown>), ...options.replace };
      const success = Object.keys(operation.responses).find((status) => status.startsWith('2'))!;
      const url = route.replace(/\{(\w+)\}/g, (_match, name: string) => options.params?.[name] ?? '');
      let call = t.http()[method as 'post'](url).send(body);
      if (options.token) call = call.set('Authorization', `Bearer ${options.token}`);
      const answer = await call;
      expect({ route, status: answer.status, body: answer.body as unknown }).toMatchObject({
        route,
        status: Number(success),
      });
      sent.add(`${method.toUpperCase()} ${route}`);
      return answer.body as Record<string, unknown> & { id: string; refreshToken: string; accessToken: string };
    };

    const signedUp = await send('post', '/api/v1/auth/signup');
    const loggedIn = await send('post', '/api/v1/auth/login');
    const refreshed = await send('post', '/api/v1/auth/refresh', { replace: { refreshToken: loggedIn.refreshToken } });
    await send('post', '/api/v1/auth/logout', {
      token: refreshed.accessToken,
      replace: { refreshToken: refreshed.refreshToken },
    });
    await send('post', '/api/v1/auth/api-keys', { token: signedUp.accessToken });
    const rule = await send('post', '/api/v1/categories', { token: signedUp.accessToken });
    await send('patch', '/api/v1/categories/{id}', { token: signedUp.accessToken, params: { id: rule.id } });
    // The preview example looks in `inbox`.
    writeTree(userFolder(t, signedUp.user as { id: string }), { 'inbox/scan_2024-03-14.pdf': 'scan' });
    await send('post', '/api/v1/categories/preview', { token: signedUp.accessToken });
    await send('put', '/api/v1/me/protected-paths', { token: signedUp.accessToken });
    const admin = await signUpAdmin(t, 'examples-admin');
    const target = (signedUp.user as { id: string }).id;
    await send('patch', '/api/v1/admin/users/{id}', { token: admin.accessToken, params: { id: target } });
    sent.add('POST /api/v1/operations'); // sent by the test above, one example per type
    fs.mkdirSync(path.join(userFolder(t, { id: target }), 'inbox'), { recursive: true });
    const watch = await send('post', '/api/v1/watches', { token: signedUp.accessToken });
    await send('patch', '/api/v1/watches/{id}', { token: signedUp.accessToken, params: { id: watch.id } });

    const withBody = operations
      .filter(([, , operation]) => operation.requestBody)
      .map(([method, route]) => `${method.toUpperCase()} ${route}`);
    expect(withBody.filter((route) => !sent.has(route))).toEqual([]);
  });
});
