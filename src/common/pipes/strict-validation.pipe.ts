import { ArgumentMetadata, BadRequestException, ValidationPipe } from '@nestjs/common';

/** Keys class-transformer skips silently, so whitelist validation never sees them. */
const SKIPPED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function skippedKeys(value: unknown, path: string, found: string[], depth = 0): string[] {
  if (value === null || typeof value !== 'object' || depth > 32) return found;
  for (const key of Object.keys(value)) {
    const here = path ? `${path}.${key}` : key;
    if (SKIPPED_KEYS.has(key)) found.push(here);
    else skippedKeys((value as Record<string, unknown>)[key], here, found, depth + 1);
  }
  return found;
}

/**
 * The global ValidationPipe, plus: `__proto__`, `constructor` and `prototype` keys are refused
 * like any other unknown field, where class-transformer would drop them without a word.
 */
export class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query') {
      const found = skippedKeys(value, '', []);
      if (found.length > 0) {
        throw new BadRequestException(found.map((key) => `property ${key} should not exist`));
      }
    }
    return super.transform(value, metadata);
  }
}
