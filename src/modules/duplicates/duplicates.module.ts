import { Module } from '@nestjs/common';
import { DuplicateGroupsStore } from './duplicate-groups.store.js';

@Module({ providers: [DuplicateGroupsStore], exports: [DuplicateGroupsStore] })
export class DuplicatesModule {}
