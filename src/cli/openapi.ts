import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppModule } from '../app.module.js';
import { buildOpenApiDocument } from '../app.setup.js';
import { loadConfig } from '../config/app-config.js';

/**
 * Writes the OpenAPI document of the API role to openapi.json (or the path given), without a
 * database or Redis: the app is built in preview mode, which reads the routes and their
 * decorators but creates no provider. `npm run openapi` runs this, then openapi-typescript.
 */
export function serializeOpenApi(document: object): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

async function main(): Promise<void> {
  const target = path.resolve(process.argv[2] ?? 'openapi.json');
  const config = loadConfig({
    ...process.env,
    APP_ROLE: 'api',
    JWT_SECRET: 'openapi-generation-only-0123456789abcdef',
  });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    preview: true,
    logger: ['error'],
    abortOnError: false,
  });
  writeFileSync(target, serializeOpenApi(buildOpenApiDocument(app)));
  await app.close();
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
