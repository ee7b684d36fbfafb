import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import serveStatic from 'serve-static';

/**
 * The console's files: `web/` at the repository root, its own source tree (browser JavaScript,
 * not part of the server's TypeScript). nest-cli's assets copy it to `dist/web`, so it is two
 * folders up from this module both as source (src/console) and built (dist/src/console).
 */
export const CONSOLE_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
export const SOCKET_IO_CLIENT_PATH = '/vendor/socket.io.min.js';

/** Socket.IO's browser client, as the socket.io package ships it (the server itself does not serve it). */
function socketIoClientFile(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('socket.io/package.json')), 'client-dist/socket.io.min.js');
}

function noCache(response: Response): void {
  response.setHeader('Cache-Control', 'no-cache');
}

/**
 * Serves the web console at / (plain HTML, CSS and JavaScript under the app's CSP: same-origin
 * scripts only) and Socket.IO's browser client. The console uses nothing but the public API.
 */
export function serveConsole(app: NestExpressApplication): void {
  const clientFile = socketIoClientFile();
  app.use(SOCKET_IO_CLIENT_PATH, (request: Request, response: Response, next: NextFunction) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || request.path !== '/') {
      next();
      return;
    }
    response.setHeader('Cache-Control', 'public, max-age=3600');
    response.sendFile(clientFile);
  });
  // What app.useStaticAssets mounts (express.static is serve-static), but not for /api/: the API's
  // routes are not files, and each GET there paid a stat() of web/api/... and a 404 error object
  // (stack trace included) before reaching its handler. web/ has no api folder.
  const files = serveStatic(CONSOLE_DIR, { index: 'index.html', redirect: false, setHeaders: noCache });
  app.use((request: Request, response: Response, next: NextFunction) => {
    if (request.path.startsWith('/api/')) next();
    else void files(request, response, next);
  });
}
