import { ApiProperty, ApiPropertyOptional, getSchemaPath, PickType } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';
import { CreateOperationDto, OrganizeOptionsDto } from './create-operation.dto.js';

/*
 * The shapes of POST /operations, one per `type`, for the OpenAPI document only: CreateOperationDto
 * still validates every request. The fields are picked from it, so their descriptions and limits
 * stay its own; only `type` and what each type requires are restated.
 */

export class OrganizeOperationRequestDto extends PickType(CreateOperationDto, ['storage', 'dryRun'] as const) {
  @ApiProperty({ enum: ['organize'] }) type!: 'organize';

  @ApiProperty({ description: 'Folder to organize, relative to your folder', example: 'inbox', maxLength: 4096 })
  rootPath!: string;

  @ApiPropertyOptional({ type: OrganizeOptionsDto }) options?: OrganizeOptionsDto;
}

export class CleanupDuplicatesOperationRequestDto extends PickType(CreateOperationDto, [
  'dryRun',
  'keep',
  'keepPaths',
] as const) {
  @ApiProperty({ enum: ['cleanup_duplicates'] }) type!: 'cleanup_duplicates';

  @ApiProperty({
    format: 'uuid',
    description:
      'A completed organize (or find_similar_images, with keepPaths) operation of yours: its groups are ' +
      'cleaned, on its storage, in its folder',
  })
  sourceOperationId!: string;
}

export class FindSimilarImagesOperationRequestDto extends PickType(CreateOperationDto, [
  'storage',
  'threshold',
] as const) {
  @ApiProperty({ enum: ['find_similar_images'] }) type!: 'find_similar_images';

  @ApiProperty({
    description:
      'Folder to look for similar images in, relative to your folder (same rules as organize). Nothing is moved: ' +
      'the groups are read with GET /operations/{id}/duplicates, each member with its `distance`',
    example: 'photos',
    maxLength: 4096,
  })
  rootPath!: string;
}

/** Every type POST /operations accepts, with its documented shape. */
export const OPERATION_REQUEST_SHAPES = {
  organize: OrganizeOperationRequestDto,
  cleanup_duplicates: CleanupDuplicatesOperationRequestDto,
  find_similar_images: FindSimilarImagesOperationRequestDto,
} as const;

/** One example per type, each valid as is (test/e2e/openapi-examples sends them). */
export const OPERATION_REQUEST_EXAMPLES = {
  organize: {
    summary: 'organize: sort inbox into sorted/<category>/',
    value: {
      type: 'organize',
      rootPath: 'inbox',
      dryRun: false,
      options: { destination: 'sorted', template: '{category}/{filename}', onConflict: 'rename' },
    },
  },
  cleanup_duplicates: {
    summary: 'cleanup_duplicates: quarantine the extra copies an organize found',
    value: { type: 'cleanup_duplicates', sourceOperationId: '3f2c8a4e-5b7d-4c1e-9a2f-6d8e0b1c2a3f', keep: 'oldest' },
  },
  find_similar_images: {
    summary: 'find_similar_images: group resized, re-encoded or lightly edited copies of photos',
    value: { type: 'find_similar_images', rootPath: 'photos', threshold: 8 },
  },
} as const;

/** `oneOf` the shapes with a discriminator on `type`, so Swagger UI and clients pick the shape by type. */
export function operationRequestSchema(): SchemaObject {
  const entries = Object.entries(OPERATION_REQUEST_SHAPES);
  return {
    oneOf: entries.map(([, shape]) => ({ $ref: getSchemaPath(shape) })),
    discriminator: {
      propertyName: 'type',
      mapping: Object.fromEntries(entries.map(([type, shape]) => [type, getSchemaPath(shape)])),
    },
  };
}
