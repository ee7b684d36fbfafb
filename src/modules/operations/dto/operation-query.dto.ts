import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PaginationQueryDto } from '../../../common/dto/pagination.dto.js';
import { FILE_STATUSES, OPERATION_STATUSES, OPERATION_TYPES } from '../operation.types.js';
import type { FileStatus, OperationStatus, OperationType } from '../operation.types.js';

export class ListOperationsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: OPERATION_STATUSES })
  @IsOptional()
  @IsIn(OPERATION_STATUSES)
  status?: OperationStatus;

  @ApiPropertyOptional({ enum: OPERATION_TYPES })
  @IsOptional()
  @IsIn(OPERATION_TYPES)
  type?: OperationType;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only the operations this watch started' })
  @IsOptional()
  @IsUUID('all', { message: 'watchId must be the id of a watch' })
  watchId?: string;
}

export class ListFilesQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: FILE_STATUSES })
  @IsOptional()
  @IsIn(FILE_STATUSES)
  status?: FileStatus;

  @ApiPropertyOptional({ example: 'Images' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  category?: string;
}
