import { Injectable } from '@nestjs/common';
import { DuplicateGroupsStore } from '../../duplicates/duplicate-groups.store.js';
import { DEFAULT_KEEP_POLICY, selectKeeper } from '../../duplicates/keep-policy.js';
import { FileRecordsStore } from '../file-records.store.js';
import type { PlannedFile } from '../file-records.store.js';
import { ProtectedPathsService } from '../../protected-paths/protected-paths.service.js';
import { PROTECTED_REASON } from '../../protected-paths/protected-path-set.js';
import { JournalMover } from './journal-mover.js';
import type { MovePolicy } from './journal-mover.js';
import { protectedOutcome } from './protected-guard.js';
import { sameContentStamp } from './run-context.js';
import type { RunContext } from './run-context.js';

const GROUP_PAGE = 200;

/** Where a cleanup puts the copies it takes away: nothing is deleted until a purge. */
export function quarantineFolder(operationId: string): string {
  return `.fileorganizer/quarantine/${operationId}`;
}

/**
 * Runs cleanup_duplicates: for each group its source operation found, re-verifies every copy by
 * content (size, then the full SHA-256), keeps one by the `keep` policy, and moves the others into
 * the quarantine, journaled like any move.
 */
@Injectable()
export class CleanupRunner {
  constructor(
    private readonly records: FileRecordsStore,
    private readonly groups: DuplicateGroupsStore,
    private readonly mover: JournalMover,
    private readonly protectedPaths: ProtectedPathsService,
  ) {}

  async run(context: RunContext): Promise<void> {
    const { operation, tracker, storage } = context;
    const planComplete = !['queued', 'scanning', 'hashing'].includes(tracker.progress.phase);
    if (!planComplete || !(await this.records.hasRecords(operation.id))) {
      await this.records.deleteAll(operation.id, context.epoch);
      await tracker.enterPhase('hashing');
      await this.plan(context);
    }
    const counts = await this.records.countByStatus(operation.id);
    const planned = await this.records.plannedTotals(operation.id);
    tracker.set({
      filesTotal: Object.values(counts).reduce((sum, n) => sum + n, 0),
      duplicatesFound: planned.files + (counts.quarantined ?? 0),
      reclaimableBytes: planned.bytes + tracker.progress.spaceSavedBytes,
    });
    if (operation.dryRun) return;
    if (tracker.progress.phase === 'hashing') await tracker.enterPhase('moving');
    const policy: MovePolicy = {
      movedStatus: 'quarantined',
      onConflict: 'skip',
      missingSource: 'stale',
      // The last look before a copy goes: still the bytes that were verified.
      verify: async (record, current) => {
        if (!sameContentStamp(current, record)) return 'changed since it was verified';
        if ((await storage.contentHash(record.sourcePath)) !== record.hash) return 'changed since it was verified';
        return null;
      },
    };
    const protectedPaths = await this.protectedPaths.forUser(operation.userId);
    await this.mover.processPlanned(context, async (record) => {
      const result = protectedOutcome(protectedPaths, record) ?? (await this.mover.moveOne(context, record, policy));
      if (result.status === 'quarantined') tracker.add({ spaceSavedBytes: record.size });
      return result;
    });
  }

  private async plan(context: RunContext): Promise<void> {
    if (context.operation.options.keepPaths) return this.planSimilar(context, context.operation.options.keepPaths);
    const { operation, storage, tracker } = context;
    const sourceId = operation.sourceOperationId as string;
    const keep = operation.options.keep ?? DEFAULT_KEEP_POLICY;
    const quarantine = quarantineFolder(operation.id);
    const protectedPaths = await this.protectedPaths.forUser(operation.userId);
    let seq = 0;
    for (let offset = 0; ; offset += GROUP_PAGE) {
      const groups = await this.groups.page(sourceId, offset, GROUP_PAGE);
      if (groups.length === 0) return;
      const where = await this.records.currentPaths(
        sourceId,
        groups.flatMap((group) => group.seqs),
      );
      const records: PlannedFile[] = [];
      for (const group of groups) {
        const verified: PlannedFile[] = [];
        const rejected: PlannedFile[] = [];
        for (const member of group.seqs) {
          const known = where.get(member);
          if (!known) continue;
          const record: PlannedFile = {
            seq: 0,
            sourcePath: known.path,
            destinationPath: `${quarantine}/${known.path}`,
            category: null,
            matchedBy: null,
            size: group.size,
            mtimeMs: known.mtimeMs,
            hash: group.hash,
            status: 'planned',
            error: null,
          };
          const current = await storage.stat(known.path).catch(() => null);
          if (!current || current.size !== group.size) {
            rejected.push({ ...record, status: 'skipped', error: current ? 'changed since the scan' : 'missing' });
            continue;
          }
          record.mtimeMs = current.mtimeMs;
          const hash = await storage.contentHash(known.path).catch(() => null);
          if (hash !== group.hash) {
            rejected.push({ ...record, status: 'skipped', error: 'changed since the scan' });
            continue;
          }
          verified.push(record);
        }
        if (verified.length < 2) {
          for (const record of verified)
            rejected.push({ ...record, status: 'skipped', error: 'no longer a duplicate' });
        } else {
          const keeper = selectKeeper(
            verified.map((record) => ({ ...record, path: record.sourcePath })),
            keep,
          );
          for (const record of verified) {
            if (record.sourcePath === keeper.sourcePath) {
              rejected.push({ ...record, destinationPath: null, status: 'skipped', error: 'kept' });
            } else if (protectedPaths.covers(record.sourcePath)) {
              // Never a loser: the copy under a protected path stays (the keeper stays too).
              rejected.push({ ...record, destinationPath: null, status: 'skipped', error: PROTECTED_REASON });
            } else {
              records.push(record);
            }
          }
        }
        records.push(...rejected);
        tracker.add({ filesScanned: group.seqs.length, bytesScanned: group.seqs.length * group.size });
      }
      for (const record of records) {
        record.seq = seq;
        seq += 1;
      }
      await this.records.insert(operation.id, context.epoch, records);
      await tracker.tick();
    }
  }

  /**
   * The plan for the groups of a find_similar_images operation: the images are not equal, so
   * nothing is verified against the group's hash; instead each member must still be the file that
   * was hashed (same size and mtime), its sha256 is taken now (the move re-verifies against it),
   * and only groups holding a kept image (one that is still there) are cleaned.
   */
  private async planSimilar(context: RunContext, keepPaths: string[]): Promise<void> {
    const { operation, storage, tracker } = context;
    const sourceId = operation.sourceOperationId as string;
    const keep = new Set(keepPaths);
    const quarantine = quarantineFolder(operation.id);
    const protectedPaths = await this.protectedPaths.forUser(operation.userId);
    let seq = 0;
    for (let offset = 0; ; offset += GROUP_PAGE) {
      const groups = await this.groups.page(sourceId, offset, GROUP_PAGE);
      if (groups.length === 0) return;
      const where = await this.records.currentPaths(
        sourceId,
        groups.flatMap((group) => group.seqs),
      );
      const records: PlannedFile[] = [];
      for (const group of groups) {
        const members = group.seqs.flatMap((member) => where.get(member) ?? []);
        if (!members.some((member) => keep.has(member.path))) continue;
        const planned: PlannedFile[] = [];
        const settled: PlannedFile[] = [];
        let keptPresent = false;
        for (const known of members) {
          const record: PlannedFile = {
            seq: 0,
            sourcePath: known.path,
            destinationPath: `${quarantine}/${known.path}`,
            category: null,
            matchedBy: null,
            size: known.size,
            mtimeMs: known.mtimeMs,
            hash: null,
            status: 'planned',
            error: null,
          };
          const current = await storage.stat(known.path).catch(() => null);
          if (!current || !sameContentStamp(current, known)) {
            settled.push({
              ...record,
              destinationPath: null,
              status: 'skipped',
              error: current ? 'changed since the scan' : 'missing',
            });
          } else if (keep.has(known.path)) {
            keptPresent = true;
            settled.push({ ...record, destinationPath: null, status: 'skipped', error: 'kept' });
          } else if (protectedPaths.covers(known.path)) {
            settled.push({ ...record, destinationPath: null, status: 'skipped', error: PROTECTED_REASON });
          } else {
            const hash = await storage.contentHash(known.path).catch(() => null);
            if (hash === null) settled.push({ ...record, destinationPath: null, status: 'skipped', error: 'missing' });
            else planned.push({ ...record, hash });
          }
        }
        // Never take the others away when no kept image is left to stand for them.
        for (const record of planned) {
          records.push(
            keptPresent ? record : { ...record, destinationPath: null, status: 'skipped', error: 'no kept image left' },
          );
        }
        records.push(...settled);
        tracker.add({ filesScanned: members.length, bytesScanned: members.reduce((sum, m) => sum + m.size, 0) });
      }
      for (const record of records) {
        record.seq = seq;
        seq += 1;
      }
      await this.records.insert(operation.id, context.epoch, records);
      await tracker.tick();
    }
  }
}
