import { BadRequestException, Injectable } from '@nestjs/common';
import type { AuthUser } from '../../common/auth-user.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { mapLimited } from '../../common/map-limited.js';
import { CategoriesService } from '../categories/categories.service.js';
import type { Categorizer } from '../categories/categorizer.js';
import { SNIFF_BYTES } from '../categories/content-sniffer.js';
import { ScanningService } from '../scanning/scanning.service.js';
import { StorageService } from '../storage/storage.service.js';
import type { FolderEntry, UserStorage } from '../storage/storage-provider.js';
import { normalizeRequestPath } from '../storage/user-path.js';
import type { ListFolderQueryDto } from './files.dto.js';
import { decodeListingCursor, encodeListingCursor } from './listing-cursor.js';

export interface FolderEntryView extends FolderEntry {
  category: string | null;
}

/** A page of a folder: `total` is null where counting would mean reading all of it (see the DTO). */
export interface FolderListing extends Omit<Page<FolderEntryView>, 'total'> {
  total: number | null;
  nextCursor: string | null;
}

/** A recursive listing stops with a 400 beyond this many entries: a page needs them all sorted. */
export const MAX_RECURSIVE_ENTRIES = 50_000;
/**
 * A plain listing's `page` × `limit` may reach this far without a cursor: deeper offsets would
 * need that many entries held at once. 50 pages of the largest page size.
 */
export const MAX_OFFSET_ENTRIES = 10_000;
/** Backend calls one plain page may make (short pages of a backend skipping hidden keys). */
const MAX_LIST_CALLS = 20;
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

/**
 * API.md's Files section: a user's folder as a frontend shows it, through the StorageProvider.
 * Storage's domain errors (a path rejected, not found, through a link) reach the HTTP exception
 * filter as they are, which answers 400 or 404.
 */
@Injectable()
export class FilesService {
  constructor(
    private readonly storage: StorageService,
    private readonly categories: CategoriesService,
    private readonly scanning: ScanningService,
  ) {}

  async list(user: AuthUser, query: ListFolderQueryDto): Promise<FolderListing> {
    const folder = normalizeRequestPath(query.path, 'path');
    const storage = await this.storage.forUser(query.storage, user.id);
    try {
      return await this.listIn(storage, user, query, folder);
    } finally {
      storage.close();
    }
  }

  private async listIn(
    storage: UserStorage,
    user: AuthUser,
    query: ListFolderQueryDto,
    folder: string,
  ): Promise<FolderListing> {
    await storage.assertFolder(folder, 'path');
    const categorizer = await this.categories.categorizerFor(user.id);
    const categorize = (entry: FolderEntry) => this.categoryOf(storage, categorizer, entry);
    if (!query.recursive && query.category === undefined) {
      return this.listPage(storage, folder, query, categorize);
    }
    if (query.cursor !== undefined) {
      throw new BadRequestException('cursor pages plain listings only (without recursive or category)');
    }
    // A recursive or filtered listing needs every entry before its page can be cut: at most
    // MAX_RECURSIVE_ENTRIES of them are read, more is a 400.
    const entries = await this.scanning.entries(storage, folder, {
      recursive: query.recursive,
      max: MAX_RECURSIVE_ENTRIES,
    });
    if (entries.length > MAX_RECURSIVE_ENTRIES) throw this.tooLarge();
    entries.sort(compareEntries(query.recursive));
    const start = (query.page - 1) * query.limit;

    if (query.category === undefined) {
      const page = entries.slice(start, start + query.limit);
      const categories = await mapLimited(page, CATEGORIZE_CONCURRENCY, categorize);
      return {
        items: page.map((entry, index) => ({ ...entry, category: categories[index] })),
        total: entries.length,
        page: query.page,
        limit: query.limit,
        nextCursor: null,
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
      nextCursor: null,
    };
  }

  /**
   * A plain listing, read page by page from the backend (see UserStorage.list): a cursor resumes
   * where the previous page ended; `page` N without a cursor reads the first N pages' worth, which
   * is bounded by MAX_OFFSET_ENTRIES (beyond it: 400, follow `nextCursor`).
   */
  private async listPage(
    storage: UserStorage,
    folder: string,
    query: ListFolderQueryDto,
    categorize: (entry: FolderEntry) => Promise<string | null>,
  ): Promise<FolderListing> {
    let cursor: string | undefined;
    let skip = 0;
    if (query.cursor !== undefined) {
      const decoded = decodeListingCursor(query.cursor);
      if (!decoded) throw new BadRequestException('cursor is not valid');
      if (decoded.storage !== storage.kind || decoded.folder !== folder) {
        throw new BadRequestException('cursor belongs to another listing (storage and path must stay the same)');
      }
      if (query.page !== 1) throw new BadRequestException('page cannot be combined with cursor');
      cursor = decoded.backend;
    } else {
      skip = (query.page - 1) * query.limit;
      if (skip + query.limit > MAX_OFFSET_ENTRIES) {
        throw new BadRequestException(
          `page × limit may reach at most ${MAX_OFFSET_ENTRIES} entries; follow nextCursor to go further`,
        );
      }
    }
    const wanted = skip + query.limit;
    const entries: FolderEntry[] = [];
    let total: number | null = null;
    let next: string | null = null;
    try {
      // A backend may answer short pages (S3 skipping hidden keys); ask again for what is missing.
      for (let calls = 0; calls < MAX_LIST_CALLS; calls += 1) {
        const page = await storage.list(folder, { cursor, limit: wanted - entries.length });
        entries.push(...page.entries);
        if (calls === 0) total = page.total;
        next = page.next;
        if (next === null || entries.length >= wanted) break;
        cursor = next;
        total = null;
      }
    } catch (error) {
      if (error instanceof RangeError) throw new BadRequestException('cursor is not valid', { cause: error });
      throw error;
    }
    const items = entries.slice(skip);
    const categories = await mapLimited(items, CATEGORIZE_CONCURRENCY, categorize);
    return {
      items: items.map((entry, index) => ({ ...entry, category: categories[index] })),
      total,
      page: query.page,
      limit: query.limit,
      nextCursor: next === null ? null : encodeListingCursor({ storage: storage.kind, folder, backend: next }),
    };
  }

  private tooLarge(): BadRequestException {
    return new BadRequestException(
      `More than ${MAX_RECURSIVE_ENTRIES} entries to list and sort; list the folder without recursive=true or category`,
    );
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
