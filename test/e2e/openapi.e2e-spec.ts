import { createTestApp, TestApp } from '../utils/test-app.js';

interface Operation {
  summary?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: { $ref?: string } }> }>;
}

/** Every Auth row of API.md: request schema, success answer and the error answers it can give. */
const AUTH_ROUTES: {
  method: string;
  path: string;
  body?: string;
  success: [string, string | null];
  errors: string[];
  open?: boolean;
}[] = [
  {
    method: 'post',
    path: '/api/v1/auth/signup',
    body: 'SignupDto',
    success: ['201', 'AuthTokensDto'],
    errors: ['400', '409', '413', '429'],
    open: true,
  },
  {
    method: 'post',
    path: '/api/v1/auth/login',
    body: 'LoginDto',
    success: ['200', 'AuthTokensDto'],
    errors: ['400', '401', '413', '429'],
    open: true,
  },
  {
    method: 'post',
    path: '/api/v1/auth/refresh',
    body: 'RefreshTokenDto',
    success: ['200', 'AuthTokensDto'],
    errors: ['400', '401', '413', '429'],
    open: true,
  },
  {
    method: 'post',
    path: '/api/v1/auth/logout',
    body: 'RefreshTokenDto',
    success: ['204', null],
    errors: ['400', '401', '413', '429'],
  },
  { method: 'get', path: '/api/v1/auth/me', success: ['200', 'UserDto'], errors: ['401', '429'] },
  {
    method: 'post',
    path: '/api/v1/auth/api-keys',
    body: 'CreateApiKeyDto',
    success: ['201', 'CreatedApiKeyDto'],
    errors: ['400', '401', '413', '429'],
  },
  {
    method: 'get',
    path: '/api/v1/auth/api-keys',
    success: ['200', 'ApiKeyPageDto'],
    errors: ['400', '401', '429'],
  },
  {
    method: 'delete',
    path: '/api/v1/auth/api-keys/{id}',
    success: ['204', null],
    errors: ['400', '401', '404', '429'],
  },
];

describe('OpenAPI document (e2e)', () => {
  let t: TestApp;
  let document: {
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
  };
  beforeAll(async () => {
    t = await createTestApp();
    document = (await t.http().get('/docs-json').expect(200)).body;
  });
  afterAll(async () => {
    await t.close();
  });

  const schemaName = (ref: string | undefined) => ref?.replace('#/components/schemas/', '');

  it.each(AUTH_ROUTES.map((route) => [`${route.method.toUpperCase()} ${route.path}`, route] as const))(
    '%s has its request and response schemas, error answers and security',
    (_name, route) => {
      const operation = document.paths[route.path]?.[route.method];
      expect(operation).toBeDefined();
      expect(operation.summary).toEqual(expect.any(String));
      if (route.body) {
        expect(schemaName(operation.requestBody?.content['application/json'].schema.$ref)).toBe(route.body);
      } else {
        expect(operation.requestBody).toBeUndefined();
      }
      const [status, schema] = route.success;
      expect(operation.responses[status]).toBeDefined();
      expect(operation.responses[status].description).not.toBe('');
      if (schema) {
        expect(schemaName(operation.responses[status].content?.['application/json'].schema.$ref)).toBe(schema);
      }
      for (const error of route.errors) {
        expect({ error, response: operation.responses[error] }).toMatchObject({ error, response: expect.anything() });
        expect(schemaName(operation.responses[error].content?.['application/json'].schema.$ref)).toBe(
          'ErrorResponseDto',
        );
      }
      if (route.open) {
        expect(operation.security ?? []).toEqual([]);
      } else {
        expect(operation.security).toEqual(expect.arrayContaining([{ bearer: [] }, { apiKey: [] }]));
      }
    },
  );

  it('describes every field of the auth schemas', () => {
    const fields = (name: string) => Object.keys(document.components.schemas[name].properties ?? {}).sort();
    expect(fields('SignupDto')).toEqual(['email', 'name', 'password']);
    expect(document.components.schemas.SignupDto.required?.sort()).toEqual(['email', 'password']);
    expect(document.components.schemas.SignupDto.properties?.password).toMatchObject({
      minLength: 8,
      maxLength: 128,
    });
    expect(document.components.schemas.SignupDto.properties?.email).toMatchObject({ format: 'email' });
    expect(fields('LoginDto')).toEqual(['email', 'password']);
    expect(fields('AuthTokensDto')).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'tokenType', 'user']);
    expect(fields('UserDto')).toEqual(['createdAt', 'email', 'id', 'name', 'role']);
    expect(fields('CreateApiKeyDto')).toEqual(['expiresAt', 'name']);
    expect(fields('CreatedApiKeyDto')).toEqual(expect.arrayContaining(['id', 'name', 'prefix', 'key', 'expiresAt']));
    expect(fields('ApiKeyDto')).not.toContain('key');
    expect(fields('ApiKeyPageDto')).toEqual(['items', 'limit', 'page', 'total']);
    expect(fields('ErrorResponseDto')).toEqual(['error', 'message', 'retryAfter', 'statusCode']);
    expect(document.components.schemas.ErrorResponseDto.required?.sort()).toEqual(['error', 'message', 'statusCode']);
  });

  it('documents the health answers', () => {
    const health = document.paths['/health'].get;
    expect(health.security ?? []).toEqual([]);
    expect(health.responses['200'].content?.['application/json']).toBeDefined();
    expect(health.responses['503'].content?.['application/json']).toBeDefined();
  });
});
