import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { decodeJwt } from '../utils/assertions.js';
import { connectSocket } from '../utils/sockets.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import {
  createOperation,
  fileRecords,
  manifest,
  organize,
  userFolder,
  waitForOperation,
  writeTree,
} from '../utils/operations.js';

/** What no error body may hold: a stack frame, SQL, a driver message or a server path. */
const LEAK =
  /\bat \S+\.(js|ts):\d+|node_modules|SELECT |INSERT |UPDATE |QueryFailedError|ECONNREFUSED|\/tmp\/|\/work\//;

function expectCleanError(body: unknown, storageRoot: string): void {
  const text = JSON.stringify(body);
  expect(text).not.toMatch(LEAK);
  expect(text).not.toContain(storageRoot);
  expect(body).toEqual(expect.objectContaining({ statusCode: expect.any(Number), error: expect.any(String) }));
}

describe('abuse: bad paths, oversized and malformed input, mass assignment (e2e)', () => {
  let t: TestApp;
  let db: DataSource;
  let user: SignedUpUser;
  let root: string;
  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  beforeAll(async () => {
    t = await createTestApp();
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t, 'abuse');
    root = userFolder(t, user);
  });

  it('the path corpus: encoded, backslash, fullwidth, NUL, absolute and symlinked paths never leave the folder', async () => {
    const other = await signUp(t, 'victim');
    const otherRoot = userFolder(t, other);
    writeTree(otherRoot, { 'secret/a.txt': 'victim data' });
    writeTree(root, { 'inbox/a.txt': 'a' });
    fs.symlinkSync(otherRoot, path.join(root, 'to-victim'));
    fs.symlinkSync(path.join(otherRoot, 'secret'), path.join(root, 'inbox/to-victim-secret'));
    const victimBefore = manifest(otherRoot);
    const corpus: [string, RegExp][] = [
      ['../', /\.\./],
      ['..', /\.\./],
      ['inbox/../..', /\.\./],
      ['..\\..\\etc', /\.\./],
      ['inbox\\..\\..', /\.\./],
      ['%2e%2e%2f', /does not exist/],
      ['%2e%2e/%2e%2e/etc', /does not exist/],
      ['%252e%252e%252f', /does not exist/],
      ['..%2f..%2fetc', /does not exist/],
      ['\uff0e\uff0e/\uff0e\uff0e/etc', /does not exist/],
      ['\u2025/etc', /does not exist/],
      ['inbox\0/../../etc', /NUL/],
      ['/etc', /absolute/],
      ['\\\\server\\share', /absolute/],
      ['C:\\Windows', /absolute/],
      ['to-victim', /symbolic link/],
      ['to-victim/secret', /symbolic link/],
      ['inbox/to-victim-secret', /symbolic link/],
    ];
    for (const [raw, message] of corpus) {
      // A destination may be missing (moves create it): only the escaping ones are refused there.
      const escaping = !/does not exist/.test(message.source);
      const bodies: Record<string, unknown>[] = [{ type: 'organize', rootPath: raw }];
      if (escaping) bodies.push({ type: 'organize', rootPath: 'inbox', options: { destination: raw } });
      for (const body of bodies) {
        const response = await t.http().post('/api/v1/operations').set(auth()).send(body);
        expect({ raw, status: response.status }).toEqual({ raw, status: 400 });
        expect(JSON.stringify(response.body.message)).toMatch(message);
        expectCleanError(response.body, t.config.storageLocalRoot);
      }
    }
    // Encoded and look-alike names are names: a destination spelled so is a folder inside, taken literally.
    const done = await organize(t, user, {
      rootPath: 'inbox',
      options: { destination: '%2e%2e%2f/\uff0e\uff0e', template: '{filename}' },
    });
    expect(done.status).toBe('completed');
    expect(manifest(otherRoot)).toEqual(victimBefore);
    // The link was left alone, the file landed inside the user's folder under the literal names.
    expect(fs.lstatSync(path.join(root, 'inbox/to-victim-secret')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(path.join(root, '%2e%2e%2f/\uff0e\uff0e/a.txt'), 'utf8')).toBe('a');
  });

  it('a folder swapped for a link to another user between plan and move: those moves fail, the victim is untouched', async () => {
    const other = await signUp(t, 'victim');
    const otherRoot = userFolder(t, other);
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i += 1) files[`inbox/sub/f${i}.txt`] = `same name, same size ${i}`;
    writeTree(root, { ...files, 'inbox/keep.jpg': 'k' });
    // The victim holds files with the same names, sizes and modification times.
    writeTree(otherRoot, Object.fromEntries(Object.entries(files).map(([p, c]) => [p.replace('inbox/', ''), c])));
    for (const relative of Object.keys(files)) {
      fs.utimesSync(path.join(root, relative), 1_700_000_000, 1_700_000_000);
      fs.utimesSync(path.join(otherRoot, relative.replace('inbox/', '')), 1_700_000_000, 1_700_000_000);
    }
    const plan = await organize(t, user, { rootPath: 'inbox', dryRun: true });
    expect(plan.status).toBe('completed');
    fs.renameSync(path.join(root, 'inbox/sub'), path.join(root, 'moved-away'));
    fs.symlinkSync(path.join(otherRoot, 'sub'), path.join(root, 'inbox/sub'));
    const victimBefore = manifest(otherRoot);
    const response = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    const done = await waitForOperation(t, user, response.body.id);
    expect(done.status).toBe('completed');
    expect(manifest(otherRoot)).toEqual(victimBefore);
    const records = await fileRecords(t, user, response.body.id);
    const fromSub = records.filter((r) => String(r.sourcePath).startsWith('inbox/sub/'));
    expect(fromSub).toHaveLength(5);
    expect(fromSub.every((r) => r.status === 'failed' && r.error === 'path leads through a symbolic link')).toBe(true);
    expect(records.find((r) => r.sourcePath === 'inbox/keep.jpg')?.status).toBe('moved');
  });

  it('a destination inside the source: every file moves once, a second run moves nothing', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i += 1) files[`inbox/d${i % 3}/f${i}.${['jpg', 'txt', 'mp3'][i % 3]}`] = `c${i}`;
    writeTree(root, files);
    const before = manifest(root);
    const first = await organize(t, user, { rootPath: 'inbox', options: { destination: 'inbox/sorted' } });
    expect(first.status).toBe('completed');
    const after = manifest(root);
    expect(Object.values(after).sort()).toEqual(Object.values(before).sort());
    expect(Object.keys(after).every((p) => /^inbox\/sorted\/(Images|Documents|Audio)\/f\d+\.\w+$/.test(p))).toBe(true);
    const second = await organize(t, user, { rootPath: 'inbox', options: { destination: 'inbox/sorted' } });
    const records = await fileRecords(t, user, second.id);
    expect(records.filter((r) => r.status === 'moved')).toEqual([]);
    expect(manifest(root)).toEqual(after);
  });

  it('answers 413 for a 10 MB body and 400 for deeply nested JSON, on every body route, and keeps serving', async () => {
    const big = JSON.stringify({ type: 'organize', rootPath: 'x'.repeat(10 * 1024 * 1024) });
    const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    const routes = ['/api/v1/operations', '/api/v1/categories', '/api/v1/auth/api-keys', '/api/v1/auth/login'];
    for (const route of routes) {
      const tooBig = await t.http().post(route).set(auth()).set('Content-Type', 'application/json').send(big);
      expect(tooBig.status).toBe(413);
      expectCleanError(tooBig.body, t.config.storageLocalRoot);
      for (const depth of [64, 5_000, 100_000]) {
        const response = await t
          .http()
          .post(route)
          .set(auth())
          .set('Content-Type', 'application/json')
          .send(`{"options":${nested(depth)}}`);
        expect({ route, depth, status: response.status }).toEqual({ route, depth, status: 400 });
        expectCleanError(response.body, t.config.storageLocalRoot);
      }
    }
    await t.http().get('/health/live').expect(200);
  });

  it('absurd pagination answers 400 (never 500), a sane one answers 200', async () => {
    const queries = [
      'page=0',
      'page=-1',
      'page=1.5',
      'page=abc',
      'page=1e309',
      'page=99999999999999999999',
      'page=NaN',
      'page=Infinity',
      'limit=0',
      'limit=201',
      'limit=-5',
      'limit=1e3',
      'page[]=1',
      'page[a]=1',
      'page=1&page=2',
      'limit=',
      'status=nope',
      'type[$ne]=organize',
    ];
    for (const query of queries) {
      const response = await t.http().get(`/api/v1/operations?${query}`).set(auth());
      expect({ query, status: response.status }).toEqual({ query, status: 400 });
      expectCleanError(response.body, t.config.storageLocalRoot);
    }
    const ok = await t.http().get('/api/v1/operations?page=1000000&limit=200').set(auth()).expect(200);
    expect(ok.body).toEqual({ items: [], total: 0, page: 1_000_000, limit: 200 });
  });

  it('mass assignment of id, userId, role, status and friends answers 400 and changes nothing', async () => {
    const other = await signUp(t, 'other');
    writeTree(root, { 'inbox/a.txt': 'a' });
    const count = async (table: string) => Number((await db.query(`SELECT count(*) AS n FROM ${table}`))[0].n);
    const operationsBefore = await count('operations');
    const forged = {
      id: '00000000-0000-4000-8000-000000000001',
      userId: other.id,
      user_id: other.id,
      status: 'completed',
      role: 'admin',
      leaseEpoch: 99,
      progress: { phase: 'done' },
      createdAt: '2000-01-01T00:00:00.000Z',
    };
    for (const [key, value] of Object.entries(forged)) {
      const response = await t
        .http()
        .post('/api/v1/operations')
        .set(auth())
        .send({ type: 'organize', rootPath: 'inbox', [key]: value });
      expect({ key, status: response.status }).toEqual({ key, status: 400 });
    }
    expect(await count('operations')).toBe(operationsBefore);

    const rule = await t
      .http()
      .post('/api/v1/categories')
      .set(auth())
      .send({ name: 'Mine', extensions: ['abc'] })
      .expect(201);
    for (const [key, value] of Object.entries(forged)) {
      await t
        .http()
        .patch(`/api/v1/categories/${rule.body.id}`)
        .set(auth())
        .send({ [key]: value })
        .expect(400);
      await t
        .http()
        .post('/api/v1/categories')
        .set(auth())
        .send({ name: 'X', extensions: ['x'], [key]: value })
        .expect(400);
    }
    const [stored] = await db.query('SELECT id, user_id FROM category_rules WHERE id = $1', [rule.body.id]);
    expect(stored).toEqual({ id: rule.body.id, user_id: user.id });
    for (const [key, value] of Object.entries(forged)) {
      await t
        .http()
        .post('/api/v1/auth/signup')
        .send({ email: `mass-${key}@example.com`, password: 'correct horse battery', [key]: value })
        .expect(400);
    }
    const [{ n }] = await db.query(`SELECT count(*) AS n FROM users WHERE email LIKE 'mass-%'`);
    expect(Number(n)).toBe(0);
    const me = await t.http().get('/api/v1/auth/me').set(auth()).expect(200);
    expect(me.body.role).toBe('user');
  });
});

describe('authorization across users and token abuse (OWASP API1, API2, API3, API5) (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it("another user's operation answers 404 on every route, exactly like a missing one, and stays untouched", async () => {
    const owner = await signUp(t, 'owner');
    const intruder = await signUp(t, 'intruder');
    const files: Record<string, string> = {};
    for (let i = 0; i < 6; i += 1) files[`inbox/d${i % 2}/dup${i % 3}.txt`] = `dup ${i % 3}`;
    writeTree(userFolder(t, owner), files);
    const organized = await organize(t, owner, { rootPath: 'inbox' });
    const cleanup = await createOperation(t, owner, { type: 'cleanup_duplicates', sourceOperationId: organized.id });
    const cleaned = await waitForOperation(t, owner, cleanup.id);
    expect(cleaned.status).toBe('completed');
    const tree = manifest(userFolder(t, owner));
    const as = (who: SignedUpUser) => ({ Authorization: `Bearer ${who.accessToken}` });
    const missing = '00000000-0000-4000-8000-000000000000';
    const routes: [string, (id: string) => string][] = [
      ['get', (id) => `/api/v1/operations/${id}`],
      ['get', (id) => `/api/v1/operations/${id}/files`],
      ['get', (id) => `/api/v1/operations/${id}/duplicates`],
      ['get', (id) => `/api/v1/operations/${id}/report`],
      ['post', (id) => `/api/v1/operations/${id}/cancel`],
      ['post', (id) => `/api/v1/operations/${id}/rollback`],
      ['post', (id) => `/api/v1/operations/${id}/apply`],
      ['delete', (id) => `/api/v1/operations/${id}/quarantine`],
    ];
    for (const id of [organized.id, cleanup.id]) {
      for (const [method, url] of routes) {
        const foreign = await t.http()[method as 'get'](url(id)).set(as(intruder));
        const absent = await t.http()[method as 'get'](url(missing)).set(as(intruder));
        expect({ url: url(id), status: foreign.status }).toEqual({ url: url(id), status: 404 });
        expect(foreign.body).toEqual(absent.body);
      }
    }
    const csv = await t
      .http()
      .get(`/api/v1/operations/${organized.id}/report`)
      .set(as(intruder))
      .set('Accept', 'text/csv');
    expect(csv.status).toBe(404);
    const sourced = await t
      .http()
      .post('/api/v1/operations')
      .set(as(intruder))
      .send({ type: 'cleanup_duplicates', sourceOperationId: organized.id });
    expect(sourced.status).toBe(404);
    expect(manifest(userFolder(t, owner))).toEqual(tree);
    const mine = await t.http().get(`/api/v1/operations/${cleanup.id}`).set(as(owner)).expect(200);
    expect(mine.body.status).toBe('completed');
    expect(mine.body.purgedAt ?? null).toBeNull();
    const list = await t.http().get('/api/v1/operations').set(as(intruder)).expect(200);
    expect(list.body.total).toBe(0);
  });

  it('a correctly signed token without exp, or with exp far past, answers 401', async () => {
    const user = await signUp(t, 'noexp');
    const { claims } = decodeJwt(user.accessToken);
    const sign = (payload: Record<string, unknown>) => {
      const encode = (part: unknown) => Buffer.from(JSON.stringify(part)).toString('base64url');
      const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(payload)}`;
      return `${unsigned}.${createHmac('sha256', t.config.jwtSecret).update(unsigned).digest('base64url')}`;
    };
    const me = (token: string) => t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`);
    const now = Math.floor(Date.now() / 1000);
    await me(sign({ ...claims, iat: now, exp: now + 60 })).expect(200);
    const { exp: _exp, ...withoutExp } = claims;
    await me(sign({ ...withoutExp, iat: now })).expect(401);
    await expect(connectSocket(t.url, { token: sign({ ...withoutExp, iat: now }) })).rejects.toThrow('unauthorized');
    await me(sign({ ...claims, exp: 'tomorrow' })).expect(401);
    await me(sign({ ...claims, iat: now - 10 * 365 * 86400, exp: now - 9 * 365 * 86400 })).expect(401);
  });
});

describe('property-based fuzz of every route: never a 5xx, never a leak, the process stays up (e2e)', () => {
  let t: TestApp;
  let user: SignedUpUser;
  beforeAll(async () => {
    t = await createTestApp({ MAX_ACTIVE_OPERATIONS_PER_USER: '1000' });
    user = await signUp(t, 'fuzz');
    writeTree(userFolder(t, user), { 'inbox/a.txt': 'a', 'inbox/b.jpg': 'b' });
  });
  afterAll(async () => {
    await t.close();
  });

  const keys = fc.constantFrom(
    'type',
    'rootPath',
    'storage',
    'dryRun',
    'options',
    'destination',
    'template',
    'onConflict',
    'includeHidden',
    'keep',
    'sourceOperationId',
    'name',
    'extensions',
    'mimeTypes',
    'namePattern',
    'minSize',
    'maxSize',
    'priority',
    'email',
    'password',
    'refreshToken',
    'expiresAt',
    'userId',
    'role',
    '__proto__',
    'constructor',
  );
  const scalar = fc.oneof(
    fc.string(),
    fc.constantFrom(
      'organize',
      'cleanup_duplicates',
      'rollback',
      'local',
      's3',
      'inbox',
      '../',
      '{category}/{filename}',
    ),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.uuid(),
  );
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('node'), { maxLength: 4 }), tie('object')),
    object: fc.dictionary(fc.oneof(keys, fc.string()), tie('node'), { maxKeys: 6 }),
  })).node;
  const body = fc.oneof(fc.dictionary(keys, value, { maxKeys: 8 }), value);
  const query = fc.dictionary(
    fc.constantFrom('page', 'limit', 'status', 'type', 'category', 'storage', 'path', 'recursive', 'x'),
    fc.oneof(fc.string(), fc.integer().map(String), fc.constantFrom('-1', '1e999', '[]', '%00', '..')),
    { maxKeys: 4 },
  );
  const id = fc.oneof(fc.uuid(), fc.string({ minLength: 1 }), fc.constantFrom('..%2f..', '%00', 'null', '-1'));
  const routes: [string, (id: string) => string, boolean][] = [
    ['post', () => '/api/v1/operations', true],
    ['get', () => '/api/v1/operations', false],
    ['get', (i) => `/api/v1/operations/${i}`, false],
    ['post', (i) => `/api/v1/operations/${i}/cancel`, true],
    ['post', (i) => `/api/v1/operations/${i}/rollback`, true],
    ['post', (i) => `/api/v1/operations/${i}/apply`, true],
    ['delete', (i) => `/api/v1/operations/${i}/quarantine`, false],
    ['get', (i) => `/api/v1/operations/${i}/files`, false],
    ['get', (i) => `/api/v1/operations/${i}/duplicates`, false],
    ['get', (i) => `/api/v1/operations/${i}/report`, false],
    ['get', () => '/api/v1/categories', false],
    ['post', () => '/api/v1/categories', true],
    ['patch', (i) => `/api/v1/categories/${i}`, true],
    ['delete', (i) => `/api/v1/categories/${i}`, false],
    ['post', () => '/api/v1/auth/signup', true],
    ['post', () => '/api/v1/auth/login', true],
    ['post', () => '/api/v1/auth/refresh', true],
    ['get', () => '/api/v1/auth/me', false],
    ['post', () => '/api/v1/auth/api-keys', true],
    ['get', () => '/api/v1/auth/api-keys', false],
    ['delete', (i) => `/api/v1/auth/api-keys/${i}`, false],
    // Last: a lucky body could end the caller's own login.
    ['post', () => '/api/v1/auth/logout', true],
  ];

  it.each(routes.map(([method, url, hasBody]) => [`${method.toUpperCase()} ${url(':id')}`, method, url, hasBody]))(
    '%s',
    async (_name, method, url, hasBody) => {
      await fc.assert(
        fc.asyncProperty(id, query, body, async (pathId, params, payload) => {
          const target = `${(url as (i: string) => string)(encodeURIComponent(pathId))}`;
          let request = t
            .http()
            [method as 'post'](target)
            .query(params)
            .set('Authorization', `Bearer ${user.accessToken}`);
          if (hasBody) request = request.set('Content-Type', 'application/json').send(JSON.stringify(payload));
          const response = await request;
          if (response.status >= 500) {
            throw new Error(
              `${method} ${target} ${JSON.stringify(params)} ${JSON.stringify(payload)} → ${response.status}`,
            );
          }
          if (response.status >= 400) expectCleanError(response.body, t.config.storageLocalRoot);
        }),
        { numRuns: 40 },
      );
      await t.http().get('/health/live').expect(200);
    },
  );
});
