import { BadRequestException, NotFoundException } from '@nestjs/common';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpExceptionFilter } from '../../common/filters/http-exception.filter.js';
import { PathEscapes, PathNotFound, PathRejected, S3_NOT_CONFIGURED, StorageNotConfigured } from './storage-errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function sourcesBelow(folder: string): string[] {
  return fs.readdirSync(folder, { withFileTypes: true, recursive: true }).flatMap((entry) => {
    const full = path.join(entry.parentPath, entry.name);
    return entry.isFile() && full.endsWith('.ts') && !full.endsWith('.spec.ts') ? [full] : [];
  });
}

describe('storage domain errors', () => {
  const filter = new HttpExceptionFilter();

  it('map to the status and body the HTTP exceptions they replace gave', () => {
    const same = (domain: Error, http: Error) => expect(filter.toBody(domain)).toEqual(filter.toBody(http));
    same(
      new PathRejected('path must not contain a ".." segment'),
      new BadRequestException('path must not contain a ".." segment'),
    );
    same(new PathNotFound('path does not exist: x'), new NotFoundException('path does not exist: x'));
    same(new StorageNotConfigured(), new BadRequestException(S3_NOT_CONFIGURED));
    expect(filter.toBody(new PathNotFound('gone')).statusCode).toBe(404);
  });

  it('never show a client the server path a link escape names', () => {
    const body = filter.toBody(new PathEscapes('/srv/storage/0b6f/in leads through a symbolic link'));
    expect(body).toEqual(filter.toBody(new BadRequestException('path leads through a symbolic link')));
  });

  it('keep their old names working (PathRuleError and MissingPathError catch the new errors)', async () => {
    const { MissingPathError, PathRuleError } = await import('./user-path.js');
    const { PathEscapeError } = await import('./storage-provider.js');
    expect(new PathNotFound('x')).toBeInstanceOf(PathRuleError);
    expect(new PathNotFound('x')).toBeInstanceOf(MissingPathError);
    expect(new PathEscapes('x')).toBeInstanceOf(PathEscapeError);
    expect(new PathEscapes('x')).not.toBeInstanceOf(PathRuleError);
  });
});

describe('the storage module knows nothing about HTTP', () => {
  /** What storage may take from @nestjs/common: dependency injection, lifecycle and logging only. */
  const ALLOWED = new Set(['Inject', 'Injectable', 'Logger', 'Module', 'OnApplicationShutdown', 'OnModuleDestroy']);

  it('imports nothing but injection, lifecycle and logging from @nestjs/common, and no HTTP exception', () => {
    const offending: string[] = [];
    for (const file of sourcesBelow(here)) {
      const source = fs.readFileSync(file, 'utf8');
      for (const match of source.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'@nestjs\/common'/g)) {
        for (const name of match[1].split(',').map((part) => part.trim().split(/\s+as\s+/)[0])) {
          if (name && !ALLOWED.has(name)) offending.push(`${path.relative(here, file)}: ${name}`);
        }
      }
      if (/\b\w*(HttpException|HttpStatus)\b|\b(BadRequest|NotFound|Conflict|Forbidden)Exception\b/.test(source)) {
        offending.push(`${path.relative(here, file)}: names an HTTP exception`);
      }
    }
    expect(offending).toEqual([]);
  });
});

describe('only scanning walks a tree', () => {
  const src = path.resolve(here, '../..');

  it('nothing outside src/modules/scanning calls walkTree, and only storage reads folders from disk', () => {
    const offending: string[] = [];
    for (const file of sourcesBelow(src)) {
      const relative = path.relative(src, file);
      const source = fs.readFileSync(file, 'utf8');
      if (
        /\.walkTree\(/.test(source) &&
        !relative.startsWith('modules/scanning/') &&
        !relative.startsWith('modules/storage/')
      ) {
        offending.push(`${relative}: walkTree`);
      }
      // A listing of /proc/self (the process's own threads, say) is never a user's folder.
      const withoutOwnProc = source.replace(/\breaddirSync\('\/proc\/self\/[a-z]+'\)/g, '');
      if (
        /\b(readdir|readdirSync|opendir|opendirSync)\(/.test(withoutOwnProc) &&
        !relative.startsWith('modules/storage/')
      ) {
        offending.push(`${relative}: reads a folder`);
      }
    }
    expect(offending).toEqual([]);
  });
});
