import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'fileorganizer:isPublic';

/** Marks a route (or controller) as open: no credential needed. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
