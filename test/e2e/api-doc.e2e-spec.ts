import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Every `METHOD /path` of the committed OpenAPI document (which openapi-spec checks against the served one). */
function documentRoutes(): string[] {
  const document = JSON.parse(readFileSync(path.join(ROOT, 'openapi.json'), 'utf8')) as {
    paths: Record<string, Partial<Record<(typeof METHODS)[number], unknown>>>;
  };
  return Object.entries(document.paths).flatMap(([route, item]) =>
    METHODS.filter((method) => item[method]).map((method) => `${method.toUpperCase()} ${route}`),
  );
}

/** Every route docs/API.md names, written as a code span `METHOD /path` (path parameters as `{id}`). */
export function routesNamedIn(markdown: string): string[] {
  return [...markdown.matchAll(/`(GET|PUT|POST|DELETE|PATCH) (\/[^`\s?]*)`/g)].map(
    (match) => `${match[1]} ${match[2]}`,
  );
}

describe('docs/API.md', () => {
  const markdown = readFileSync(path.join(ROOT, 'docs/API.md'), 'utf8');

  it('describes every route of openapi.json', () => {
    const named = new Set(routesNamedIn(markdown));
    expect(documentRoutes().filter((route) => !named.has(route))).toEqual([]);
  });

  it('names no route that openapi.json does not have', () => {
    const routes = new Set(documentRoutes());
    expect(routesNamedIn(markdown).filter((route) => !routes.has(route))).toEqual([]);
  });

  it('finds routes as the page writes them, and only those', () => {
    expect(routesNamedIn('`GET /api/v1/files` and `DELETE /api/v1/operations/{id}/quarantine`')).toEqual([
      'GET /api/v1/files',
      'DELETE /api/v1/operations/{id}/quarantine',
    ]);
    expect(routesNamedIn('GET /health without a code span, `/docs`, `get /x`')).toEqual([]);
  });

  it('is the contract the README links (a clone has no ../shared)', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('(docs/API.md)');
    expect(readme).not.toContain('../shared/');
  });
});
