import { Injectable } from '@nestjs/common';
import path from 'node:path';
import { CategoriesService } from '../../categories/categories.service.js';
import type { Categorizer } from '../../categories/categorizer.js';
import { SNIFF_BYTES } from '../../categories/content-sniffer.js';
import { DEFAULT_TEMPLATE, numberedAlternative, renderTemplate } from '../../categories/destination-template.js';
import { DuplicateGroupsStore } from '../../duplicates/duplicate-groups.store.js';
import { findDuplicates } from '../../duplicates/index.js';
import type { CandidateFile, DuplicateGroup } from '../../duplicates/index.js';
import { findDuplicatesInStorage } from '../../duplicates/storage-duplicate-finder.js';
import { PROGRESS_INTERVAL_MS } from '../../progress/progress.service.js';
import type { StoredFile } from '../../storage/storage-provider.js';
import { joinUserPath } from '../../storage/user-path.js';
import { FileRecordsStore } from '../file-records.store.js';
import type { PlannedFile } from '../file-records.store.js';
import type { OrganizeOptions } from '../operation.types.js';
import { removeEmptiedFolders } from './empty-folders.js';
import { JournalMover, MAX_RENAME_ATTEMPTS } from './journal-mover.js';
import type { MovePolicy } from './journal-mover.js';
import { parentOf, sameContentStamp } from './run-context.js';
import type { RunContext } from './run-context.js';
import { MetricsService } from '../../metrics/metrics.service.js';

/**
 * Runs an organize operation: plan every file (scan, categorize, destination) into the journal,
 * then move file by file in journal order, then remove the folders it emptied. A second run of
 * the same operation resumes from the journal and reconciles each planned move with the disk.
 */
@Injectable()
export class OrganizeRunner {
  constructor(
    private readonly records: FileRecordsStore,
    private readonly categories: CategoriesService,
    private readonly groups: DuplicateGroupsStore,
    private readonly mover: JournalMover,
    private readonly metrics: MetricsService,
  ) {}

  async run(context: RunContext): Promise<void> {
    const { operation, tracker } = context;
    // Planning is complete once a run left the scanning phase; a partial plan is made again.
    const planComplete = !['queued', 'scanning'].includes(tracker.progress.phase);
    if (!planComplete || !(await this.records.hasRecords(operation.id))) {
      await this.records.deleteAll(operation.id, context.epoch);
      tracker.set({ filesScanned: 0, bytesScanned: 0, errors: 0 });
      await tracker.enterPhase('scanning');
      if (operation.sourceOperationId) {
        await this.records.copyPlan(operation.sourceOperationId, operation.id, context.epoch, 'apply');
      } else {
        await this.plan(context);
      }
    }
    const counts = await this.records.countByStatus(operation.id);
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    tracker.set({ filesTotal: total, filesScanned: Math.max(tracker.progress.filesScanned, total) });
    if (tracker.progress.phase === 'scanning' || tracker.progress.phase === 'hashing') {
      if (tracker.progress.phase === 'scanning') await tracker.enterPhase('hashing');
      await this.findDuplicates(context);
      if (tracker.isCancelRequested || operation.dryRun) return;
      await tracker.enterPhase('moving');
    }
    if (operation.dryRun) return;
    tracker.set({ filesProcessed: total - (counts.planned ?? 0) });
    await this.moveAll(context);
    if (tracker.isCancelRequested) return;
    await tracker.enterPhase('finalizing');
    await this.removeEmptiedSourceFolders(context);
  }

  private options(context: RunContext): OrganizeOptions {
    const stored = context.operation.options;
    return {
      destination: stored.destination ?? context.operation.rootPath,
      template: stored.template ?? DEFAULT_TEMPLATE,
      onConflict: stored.onConflict ?? 'rename',
      includeHidden: stored.includeHidden ?? false,
    };
  }

  /** Scan and plan: every regular file becomes a journal record before anything moves. */
  private async plan(context: RunContext): Promise<void> {
    const { operation, storage, tracker } = context;
    const options = this.options(context);
    const categorizer = await this.categories.categorizerFor(operation.userId);
    const claimed = new Set<string>();
    const failures: PlannedFile[] = [];
    let seq = 0;
    const walk = storage.walk(operation.rootPath, {
      includeHidden: options.includeHidden,
      onError: (error) => failures.push(this.failedRecord(error.path, error.reason, 0)),
    });
    for await (const batch of walk) {
      const planned: PlannedFile[] = [];
      for (const file of batch) {
        planned.push(await this.planFile(context, categorizer, options, claimed, file, seq));
        seq += 1;
      }
      for (const failure of failures.splice(0)) {
        failure.seq = seq;
        seq += 1;
        planned.push(failure);
      }
      await this.records.insert(operation.id, context.epoch, planned);
      tracker.add({
        filesScanned: batch.length,
        bytesScanned: batch.reduce((sum, file) => sum + file.size, 0),
        errors: planned.filter((record) => record.status === 'failed').length,
      });
      await tracker.tick();
    }
    for (const failure of failures.splice(0)) {
      failure.seq = seq;
      seq += 1;
      await this.records.insert(operation.id, context.epoch, [failure]);
      tracker.add({ errors: 1 });
    }
  }

  private failedRecord(sourcePath: string, reason: string, seq: number): PlannedFile {
    return {
      seq,
      sourcePath,
      destinationPath: null,
      category: null,
      matchedBy: null,
      size: 0,
      mtimeMs: 0,
      hash: null,
      status: 'failed',
      error: reason,
    };
  }

  private async planFile(
    context: RunContext,
    categorizer: Categorizer,
    options: OrganizeOptions,
    claimed: Set<string>,
    file: StoredFile,
    seq: number,
  ): Promise<PlannedFile> {
    const { storage } = context;
    const fileName = path.posix.basename(file.path);
    const categorization = await categorizer.categorize({
      fileName,
      size: file.size,
      readHead: () => storage.readHead(file.path, SNIFF_BYTES).catch(() => new Uint8Array()),
    });
    const rendered = renderTemplate(categorization.template ?? options.template, {
      category: categorization.category,
      fileName,
      mtimeMs: file.mtimeMs,
    });
    const wanted = joinUserPath(options.destination, rendered);
    const record: PlannedFile = {
      seq,
      sourcePath: file.path,
      destinationPath: wanted,
      category: categorization.category,
      matchedBy: categorization.matchedBy,
      size: file.size,
      mtimeMs: file.mtimeMs,
      hash: null,
      status: 'planned',
      error: null,
      dev: file.dev || null,
      ino: file.ino || null,
    };
    if (wanted === file.path) {
      claimed.add(wanted);
      return { ...record, status: 'skipped', error: 'already in place' };
    }
    let candidate = wanted;
    for (let n = 1; claimed.has(candidate) || (await storage.stat(candidate)) !== null; n += 1) {
      if (options.onConflict === 'skip') return { ...record, status: 'skipped', error: 'destination exists' };
      if (n > MAX_RENAME_ATTEMPTS) return { ...record, status: 'skipped', error: 'no free name' };
      candidate = numberedAlternative(wanted, n);
    }
    claimed.add(candidate);
    return { ...record, destinationPath: candidate };
  }

  /**
   * The hashing phase: exact duplicate groups among the planned files (size, then partial hash,
   * then full hash), stored with the operation before anything moves. Runs again only when an
   * earlier run stopped before storing its groups.
   */
  private async findDuplicates(context: RunContext): Promise<void> {
    const { operation, storage, tracker } = context;
    if (!(await this.groups.hasGroups(operation.id))) {
      const candidates = await this.records.duplicateCandidates(operation.id);
      const seqByPath = new Map<string, number>();
      const abort = new AbortController();
      let tickError: unknown;
      const ticker = setInterval(() => {
        if (tracker.isCancelRequested) abort.abort(new Error('cancelled'));
        tracker.tick().catch((error: unknown) => {
          tickError = error;
          abort.abort(error);
        });
      }, PROGRESS_INTERVAL_MS);
      try {
        let found: DuplicateGroup[];
        if (storage.localPath('') !== null) {
          // Local disk: the threaded engine reads files directly and knows hard links.
          const files: CandidateFile[] = candidates.map((record) => {
            const absolute = storage.localPath(record.sourcePath) as string;
            seqByPath.set(absolute, record.seq);
            return { path: absolute, size: record.size, mtimeMs: record.mtimeMs, dev: record.dev, ino: record.ino };
          });
          const result = await findDuplicates(files, { signal: abort.signal });
          this.metrics.bytesHashed.inc(result.stats.bytesRead);
          found = result.groups;
        } else {
          for (const record of candidates) seqByPath.set(record.sourcePath, record.seq);
          found = await findDuplicatesInStorage(
            storage,
            candidates.map((r) => ({ path: r.sourcePath, size: r.size })),
            abort.signal,
          );
        }
        const groups = found.map((group, position) => ({
          position,
          hash: group.hash,
          size: group.size,
          seqs: group.paths.map((found) => seqByPath.get(found) as number),
        }));
        await this.groups.save(operation.id, context.epoch, groups);
      } catch (error) {
        if (tickError) throw tickError;
        if (abort.signal.aborted && tracker.isCancelRequested) return;
        throw error;
      } finally {
        clearInterval(ticker);
      }
    }
    const totals = await this.groups.totals(operation.id);
    tracker.set({ duplicatesFound: totals.redundant, reclaimableBytes: totals.reclaimableBytes });
    await tracker.flush();
  }

  private async moveAll(context: RunContext): Promise<void> {
    const { operation, storage } = context;
    const applying = operation.sourceOperationId !== null;
    const policy: MovePolicy = {
      movedStatus: 'moved',
      onConflict: this.options(context).onConflict,
      missingSource: applying ? 'stale' : 'failed',
      // Apply: the file must still be the one the plan saw (and, where the plan hashed it, the same bytes).
      verify: applying
        ? async (record, current) => {
            if (!sameContentStamp(current, record)) return 'stale';
            if (record.hash && (await storage.contentHash(record.sourcePath)) !== record.hash) return 'stale';
            return null;
          }
        : undefined,
    };
    await this.mover.processPlanned(context, (record) => this.mover.moveOne(context, record, policy));
  }

  private async removeEmptiedSourceFolders(context: RunContext): Promise<void> {
    const { operation, storage } = context;
    const vacated = new Set<string>();
    for await (const sources of this.records.movedSources(operation.id)) {
      for (const source of sources) vacated.add(parentOf(source));
    }
    const destination = this.options(context).destination;
    const keep = new Set<string>([destination]);
    for (let folder = destination; folder !== ''; folder = parentOf(folder)) keep.add(folder);
    const removed = await removeEmptiedFolders(storage, vacated, operation.rootPath, keep);
    await this.records.recordRemovedFolders(operation.id, removed);
    await storage.flush();
  }
}
