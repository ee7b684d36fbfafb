import { BadRequestException, Injectable } from '@nestjs/common';
import path from 'node:path';
import type { AuthUser } from '../../common/auth-user.js';
import { eventLoopSliceDue, yieldEventLoop } from '../../common/event-loop-slice.js';
import { ProtectedPathsService } from '../protected-paths/protected-paths.service.js';
import { ScanningService } from '../scanning/scanning.service.js';
import type { StoredFile, UserStorage } from '../storage/storage-provider.js';
import { StorageService } from '../storage/storage.service.js';
import { destinationProblem, joinUserPath, normalizeRequestPath, PathRuleError } from '../storage/user-path.js';
import { ruleFromRequest, validateRule } from './categories.service.js';
import { Categorizer } from './categorizer.js';
import type { CategoryRule } from './category-rule.entity.js';
import { SNIFF_BYTES } from './content-sniffer.js';
import { DEFAULT_TEMPLATE, renderTemplate, templateNeeds } from './destination-template.js';
import { MAX_PREVIEW_LIMIT, MAX_PREVIEW_SCANNED } from './dto/category-preview.dto.js';
import type {
  CategoryPreviewDto,
  CategoryPreviewItemDto,
  CategoryPreviewRequestDto,
} from './dto/category-preview.dto.js';
import { toRuleMatcher } from './rule-matcher.js';
import { gatherTemplateFacts } from './template-facts.js';

/**
 * Hazel's preview: the files one rule (not saved) would match below a folder, and where an
 * organize of that folder would put each. Reads names, sizes, mtimes and, where the rule or its
 * template needs them, heads and hashes; changes nothing. Bounded by `limit` matches and by
 * MAX_PREVIEW_SCANNED files walked.
 */
@Injectable()
export class CategoryPreviewService {
  constructor(
    private readonly storageService: StorageService,
    private readonly protectedPaths: ProtectedPathsService,
    private readonly scanning: ScanningService,
  ) {}

  async preview(user: AuthUser, request: CategoryPreviewRequestDto): Promise<CategoryPreviewDto> {
    const rule = { ...ruleFromRequest(user.id, request.rule), id: 'preview' } as CategoryRule;
    validateRule(rule);
    let rootPath: string;
    try {
      rootPath = normalizeRequestPath(request.rootPath ?? '', 'rootPath');
    } catch (error) {
      if (error instanceof PathRuleError) throw new BadRequestException(error.message);
      throw error;
    }
    const limit = Math.min(request.limit ?? 100, MAX_PREVIEW_LIMIT);
    const protectedPaths = await this.protectedPaths.forUser(user.id);
    const storage = await this.storageService.forUser(request.storage ?? 'local', user.id);
    try {
      try {
        await storage.assertFolder(rootPath, 'rootPath');
      } catch (error) {
        if (error instanceof PathRuleError) throw new BadRequestException(error.message);
        throw error;
      }
      // The rule alone: a file it does not match is not listed (the built-ins are not asked).
      const categorizer = new Categorizer([toRuleMatcher(rule)]);
      const template = rule.template ?? DEFAULT_TEMPLATE;
      const needs = templateNeeds(template);
      const items: CategoryPreviewItemDto[] = [];
      let scanned = 0;
      let truncated = false;
      // The walk organize makes (no hidden names, no links, no .fileorganizer*); unreadable entries are passed over.
      const walk = this.scanning.files(storage, rootPath, { includeHidden: false, onUnreadable: () => undefined });
      outer: for await (const batch of walk) {
        for (const file of batch) {
          if (eventLoopSliceDue()) await yieldEventLoop();
          if (scanned >= MAX_PREVIEW_SCANNED || items.length >= limit) {
            truncated = true;
            break outer;
          }
          scanned += 1;
          const item = await this.previewFile(storage, categorizer, template, needs, rootPath, file);
          if (!item) continue;
          if (protectedPaths.covers(item.sourcePath) || protectedPaths.covers(item.destinationPath)) {
            item.destinationPath = null;
            item.reason = 'protected';
          }
          items.push(item);
        }
      }
      return { items, scanned, truncated };
    } finally {
      storage.close();
    }
  }

  private async previewFile(
    storage: UserStorage,
    categorizer: Categorizer,
    template: string,
    needs: ReturnType<typeof templateNeeds>,
    rootPath: string,
    file: StoredFile,
  ): Promise<CategoryPreviewItemDto | null> {
    const fileName = path.posix.basename(file.path);
    const categorization = await categorizer.categorize({
      fileName,
      size: file.size,
      mtimeMs: file.mtimeMs,
      readHead: () => storage.readHead(file.path, SNIFF_BYTES).catch(() => new Uint8Array()),
    });
    if (!categorization.matchedBy.startsWith('rule:')) return null;
    const item: CategoryPreviewItemDto = {
      sourcePath: file.path,
      destinationPath: null,
      reason: null,
      createdFrom: null,
    };
    if (categorization.exclude) {
      item.reason = `excluded by rule ${categorization.category}`;
      return item;
    }
    const facts = await gatherTemplateFacts(storage, file, needs);
    item.createdFrom = facts.createdFrom ?? null;
    if (needs.hash && !facts.hash) {
      item.reason = 'could not read it for {hash8}';
      return item;
    }
    const destination = joinUserPath(
      rootPath,
      renderTemplate(template, {
        ...facts,
        category: categorization.category,
        fileName,
        mtimeMs: file.mtimeMs,
        sourcePath: file.path,
        match: categorization.match,
      }),
    );
    const problem = destinationProblem(destination) ?? storage.lengthProblem(destination);
    if (problem) item.reason = problem;
    else item.destinationPath = destination;
    return item;
  }
}
