import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import type { AuthUser } from '../../common/auth-user.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { mapLimited } from '../../common/map-limited.js';
import { CategoriesService } from '../categories/categories.service.js';
import type { Categorizer } from '../categories/categorizer.js';
import { SNIFF_BYTES } from '../categories/content-sniffer.js';
import { StorageService } from '../storage/storage.service.js';
import type { FolderEntry, UserStorage } from '../storage/storage-provider.js';
import { MissingPathError, normalizeUserPath, PathRuleError } from '../storage/user-path.js';
import type { ListFolderQueryDto } from './files.dto.js';

export interface FolderEntryView extends FolderEntry {
  category: string | null;
}

/** A recursive listing stops with a 400 beyond this many entries: a page needs them all sorted. */
export const MAX_RECURSIVE_ENTRIES = 50_000;
/** Files categorized at once (content sniffing reads the first bytes of a file). */
const CATEGORIZE_CONCURRENCY = 16;

function baseName(relativePath: string): string {
  return relativePath.slice(relativePath.lastIndexOf('/') + 1);
}

/** Folders first, then by name (a recursive listing: by path), in code-point order. */
function compareEntries(recursive: boolean) {
  return (a: FolderEntry, b: FolderEntry): number => {
    if (a.type !== b.type) return a.type === 'folder' ? -1 : 1;
    const left = recursive ? a.path : baseName(a.path);
    const right = recursive ? b.path : baseName(b.path);
    return left < right ? -1 : left > right ? 1 : 0;
  };
}

/** API.md's Files section: a user's folder as a frontend shows it, through the StorageProvider. */
@Injectable()
export class FilesService {
  constructor(
    private readonly storage: StorageService,
    private readonly categories: CategoriesService,
  ) {}

  async list(user: AuthUser, query: ListFolderQueryDto): Promise<Page<FolderEntryView>> {
    const folder = this.checkedPath(query.path);
    const storage = await this.storage.forUser(query.storage, user.id);
    try {
      return await this.listIn(storage, user, query, folder);
    } finally {
      storage.close?.();
    }
  }

  private async listIn(
    storage: UserStorage,
    user: AuthUser,
    query: ListFolderQueryDto,
    folder: string,
  ): Promise<Page<FolderEntryView>> {
    try {
      await storage.assertFolder(folder, 'path');
    } catch (error) {
      if (error instanceof MissingPathError) throw new NotFoundException(error.message);
      if (error instanceof PathRuleError) throw new BadRequestException(error.message);
      throw error;
    }
    const entries = query.recursive ? await this.listTree(storage, folder) : await storage.list(folder);
    entries.sort(compareEntries(query.recursive));
    const categorizer = await this.categories.categorizerFor(user.id);
    const categorize = (entry: FolderEntry) => this.categoryOf(storage, categorizer, entry);
    const start = (query.page - 1) * query.limit;

    if (query.category === undefined) {
      const page = entries.slice(start, start + query.limit);
      const categories = await mapLimited(page, CATEGORIZE_CONCURRENCY, categorize);
      return {
        items: page.map((entry, index) => ({ ...entry, category: categories[index] })),
        total: entries.length,
        page: query.page,
        limit: query.limit,
      };
    }
    // Filtering by category needs every file's category before the page can be cut.
    const files = entries.filter((entry) => entry.type === 'file');
    const categories = await mapLimited(files, CATEGORIZE_CONCURRENCY, categorize);
    const matching = files
      .map((entry, index) => ({ ...entry, category: categories[index] }))
      .filter((entry) => entry.category === query.category);
    return {
      items: matching.slice(start, start + query.limit),
      total: matching.length,
      page: query.page,
      limit: query.limit,
    };
  }

  private checkedPath(raw: string): string {
    try {
      return normalizeUserPath(raw, 'path');
    } catch (error) {
      if (error instanceof PathRuleError) throw new BadRequestException(error.message);
      throw error;
    }
  }

  /** Every entry below `folder`, breadth first; links are never followed (list leaves them out). */
  private async listTree(storage: UserStorage, folder: string): Promise<FolderEntry[]> {
    const result: FolderEntry[] = [];
    const queue = [folder];
    while (queue.length > 0) {
      const current = queue.shift() as string;
      const entries = await storage.list(current).catch((error: unknown) => {
        // A folder removed or made unreadable while we walk is skipped, like a scan does.
        if ((error as NodeJS.ErrnoException).code !== undefined) return [];
        throw error;
      });
      for (const entry of entries) {
        result.push(entry);
        if (entry.type === 'folder') queue.push(entry.path);
      }
      if (result.length > MAX_RECURSIVE_ENTRIES) {
        throw new BadRequestException(
          `More than ${MAX_RECURSIVE_ENTRIES} entries below this folder; list it without recursive=true`,
        );
      }
    }
    return result;
  }

  private async categoryOf(storage: UserStorage, categorizer: Categorizer, entry: FolderEntry): Promise<string | null> {
    if (entry.type === 'folder') return null;
    const categorization = await categorizer.categorize({
      fileName: baseName(entry.path),
      size: entry.size,
      readHead: () => storage.readHead(entry.path, SNIFF_BYTES).catch(() => new Uint8Array()),
    });
    return categorization.category;
  }
}
