import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorResponseDto } from '../../common/openapi.js';

export class DependencyStatusDto {
  @ApiProperty({ enum: ['up', 'down'] }) status!: 'up' | 'down';
}

export class DependenciesDto {
  @ApiProperty({ type: DependencyStatusDto }) database!: DependencyStatusDto;
  @ApiProperty({ type: DependencyStatusDto }) redis!: DependencyStatusDto;
}

export class HealthDto {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
  @ApiPropertyOptional({ type: DependenciesDto }) info?: DependenciesDto;
  @ApiProperty({ type: DependenciesDto }) details!: DependenciesDto;
}

export class HealthUnavailableDto extends ErrorResponseDto {
  @ApiProperty({ example: 'Unavailable: redis', description: 'Names the dependencies that are down' })
  declare message: string;

  @ApiProperty({ enum: ['error'] }) status!: 'error';
  @ApiProperty({ type: DependenciesDto }) details!: DependenciesDto;
}

export class LiveDto {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}
