import { UnsupportedMediaTypeException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** `application/json` and `application/<anything>+json`, with or without parameters. */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/**
 * The API takes JSON bodies only. A body of any other type (a form from `curl -d`, text/plain)
 * answers 415 instead of being parsed as a form (so `curl -d rootPath=x` once started a real
 * organize) or ignored and met with a misleading validation error. Requests without a body
 * (POST .../cancel, DELETE) pass whatever their Content-Type.
 */
export function jsonBodiesOnly(request: Request, _response: Response, next: NextFunction): void {
  const hasBody =
    request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
  if (!hasBody || JSON_TYPE.test(request.headers['content-type'] ?? '')) {
    next();
    return;
  }
  const type = (request.headers['content-type'] ?? 'none').split(';')[0].trim().slice(0, 100);
  next(
    new UnsupportedMediaTypeException(
      `Request bodies must be JSON: send Content-Type: application/json (got ${JSON.stringify(type)})`,
    ),
  );
}
