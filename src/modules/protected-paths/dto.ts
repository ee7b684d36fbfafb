import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsString, MaxLength } from 'class-validator';
import { MAX_PATH_BYTES } from '../storage/user-path.js';

export const MAX_PROTECTED_PATHS = 100;

export class ProtectedPathsDto {
  @ApiProperty({
    type: [String],
    example: ['Photos/Family', 'taxes/2024.pdf'],
    maxItems: MAX_PROTECTED_PATHS,
    description:
      'Folders or files relative to your folder (rules of rootPath: no "..", not absolute, no reserved names, ' +
      `at most ${MAX_PATH_BYTES} bytes). Nothing under them is moved, quarantined or deleted, and nothing is moved into them.`,
  })
  @IsArray()
  @ArrayMaxSize(MAX_PROTECTED_PATHS)
  @IsString({ each: true })
  @MaxLength(MAX_PATH_BYTES, { each: true })
  paths!: string[];
}
