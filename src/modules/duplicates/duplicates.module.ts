import { Module } from '@nestjs/common';
import { DuplicateGroupsStore } from './duplicate-groups.store.js';
import { HashCacheStore } from './hash-cache.store.js';

@Module({ providers: [DuplicateGroupsStore, HashCacheStore], exports: [DuplicateGroupsStore, HashCacheStore] })
export class DuplicatesModule {}
