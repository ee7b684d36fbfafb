import { Injectable } from '@nestjs/common';
import path from 'node:path';
import { CategoriesService } from '../../categories/categories.service.js';
import type { Categorizer } from '../../categories/categorizer.js';
import { SNIFF_BYTES } from '../../categories/content-sniffer.js';
import { DEFAULT_TEMPLATE, numberedAlternative, renderTemplate } from '../../categories/destination-template.js';
import type { StoredFile } from '../../storage/storage-provider.js';
import { joinUserPath } from '../../storage/user-path.js';
import { FileRecordsStore } from '../file-records.store.js';
import type { FileOutcome, PlannedFile } from '../file-records.store.js';
import type { OrganizeOptions } from '../operation.types.js';
import { removeEmptiedFolders } from './empty-folders.js';
import { describeFileError, MOVE_BATCH, parentOf, sameContentStamp } from './run-context.js';
import type { RunContext } from './run-context.js';

/** How many numbered names ("a (1).jpg" ...) a conflict may try before the file is skipped. */
const MAX_RENAME_ATTEMPTS = 10_000;

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
    if (operation.dryRun) return;
    if (tracker.progress.phase === 'scanning') await tracker.enterPhase('moving');
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

  private async moveAll(context: RunContext): Promise<void> {
    const { operation, tracker, storage } = context;
    let after = -1;
    for (;;) {
      const batch = await this.records.nextPlanned(operation.id, after, MOVE_BATCH);
      if (batch.length === 0) return;
      const outcomes: FileOutcome[] = [];
      for (const record of batch) {
        if (tracker.isCancelRequested) break;
        const outcome = await this.moveOne(context, record);
        outcomes.push(outcome);
        tracker.add({ filesProcessed: 1, errors: outcome.status === 'failed' ? 1 : 0 });
      }
      await storage.flush();
      await this.records.recordOutcomes(operation.id, context.epoch, outcomes);
      await tracker.tick();
      if (tracker.isCancelRequested) return;
      after = batch[batch.length - 1].seq;
    }
  }

  /**
   * One journaled move. The record says what may have happened; the disk says what did: a source
   * already gone with its destination in place (same size and mtime) was moved by an earlier run.
   */
  private async moveOne(context: RunContext, record: PlannedFile): Promise<FileOutcome> {
    const { storage, operation } = context;
    const done = (status: FileOutcome['status'], error: string | null = null): FileOutcome => ({
      seq: record.seq,
      status,
      error,
    });
    const destination = record.destinationPath as string;
    try {
      const current = await storage.stat(record.sourcePath);
      if (!current) {
        const atDestination = await storage.stat(destination);
        if (atDestination && sameContentStamp(atDestination, record)) return done('moved');
        return operation.sourceOperationId ? done('skipped', 'stale') : done('failed', 'source vanished');
      }
      if (operation.sourceOperationId && !sameContentStamp(current, record)) return done('skipped', 'stale');
      let target = destination;
      for (let n = 1; n <= MAX_RENAME_ATTEMPTS; n += 1) {
        const outcome = await storage.move(record.sourcePath, target);
        if (outcome.kind === 'moved') return done('moved');
        if (outcome.kind === 'source-missing') return done('failed', 'source vanished');
        if ((operation.options.onConflict ?? 'rename') === 'skip') return done('skipped', 'destination exists');
        target = numberedAlternative(destination, n);
        // Journal the new name before the file can land there.
        await this.records.setDestination(operation.id, context.epoch, record.seq, target);
      }
      return done('skipped', 'no free name');
    } catch (error) {
      return done('failed', describeFileError(error));
    }
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
