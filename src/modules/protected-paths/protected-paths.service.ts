import { BadRequestException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { isInside, normalizeRequestPath, PathRuleError } from '../storage/user-path.js';
import { MAX_PROTECTED_PATHS } from './dto.js';
import { ProtectedPathSet } from './protected-path-set.js';
import { ProtectedPaths } from './protected-paths.entity.js';

/**
 * The checked, normalized form of a requested list: each path by the rules of rootPath, the
 * user's whole folder refused (protect folders inside it), duplicates and paths inside another
 * one dropped (the outer one covers them). Throws 400 with the reason.
 */
export function checkedProtectedPaths(raw: string[]): string[] {
  if (raw.length > MAX_PROTECTED_PATHS) {
    throw new BadRequestException(`paths must hold at most ${MAX_PROTECTED_PATHS} entries`);
  }
  const normalized = raw.map((entry, index) => {
    const field = `paths[${index}]`;
    let checked: string;
    try {
      checked = normalizeRequestPath(entry, field);
    } catch (error) {
      if (error instanceof PathRuleError) throw new BadRequestException(error.message);
      throw error;
    }
    if (checked === '') throw new BadRequestException(`${field} must name a folder or file inside your folder`);
    return checked.normalize('NFC');
  });
  const unique = [...new Set(normalized)].sort();
  return unique.filter((entry) => !unique.some((other) => other !== entry && isInside(entry, other)));
}

@Injectable()
export class ProtectedPathsService {
  constructor(@InjectRepository(ProtectedPaths) private readonly rows: Repository<ProtectedPaths>) {}

  async list(userId: string): Promise<string[]> {
    return (await this.rows.findOneBy({ userId }))?.paths ?? [];
  }

  /** Replaces the user's protected paths; answers them as stored. */
  async replace(userId: string, raw: string[]): Promise<string[]> {
    const paths = checkedProtectedPaths(raw);
    await this.rows.upsert({ userId, paths }, ['userId']);
    return paths;
  }

  /** What a run checks its files against (read once per run). */
  async forUser(userId: string): Promise<ProtectedPathSet> {
    const paths = await this.list(userId);
    return paths.length === 0 ? ProtectedPathSet.NONE : new ProtectedPathSet(paths);
  }
}
