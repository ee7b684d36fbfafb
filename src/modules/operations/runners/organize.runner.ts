import { Injectable } from '@nestjs/common';
import path from 'node:path';
import { eventLoopSliceDue, yieldEventLoop } from '../../../common/event-loop-slice.js';
import { CategoriesService } from '../../categories/categories.service.js';
import type { Categorization, Categorizer } from '../../categories/categorizer.js';
import { SNIFF_BYTES } from '../../categories/content-sniffer.js';
import {
  DEFAULT_TEMPLATE,
  numberedAlternative,
  renderTemplate,
  templateNeeds,
} from '../../categories/destination-template.js';
import { gatherTemplateFacts } from '../../categories/template-facts.js';
import type { TemplateFacts } from '../../categories/template-facts.js';
import { DuplicateGroupsStore, withGroupTotals } from '../../duplicates/duplicate-groups.store.js';
import type { GroupTotals } from '../../duplicates/duplicate-groups.store.js';
import { HashCacheStore } from '../../duplicates/hash-cache.store.js';
import {
  findDuplicates,
  hashThreadsFor,
  localFileHashes,
  releaseIdleHashWorkers,
  streamedHashes,
} from '../../duplicates/index.js';
import type { CandidateFile } from '../../duplicates/index.js';
import { ScanningService } from '../../scanning/scanning.service.js';
import { PROGRESS_INTERVAL_MS } from '../progress-tracker.js';
import type { StoredFile, UserStorage } from '../../storage/storage-provider.js';
import { COPY_MTIME_TOLERANCE_MS } from '../../storage/local-user-storage.js';
import { destinationProblem, joinUserPath, MAX_PATH_BYTES, NAME_MAX_BYTES } from '../../storage/user-path.js';
import { FileRecordsStore } from '../file-records.store.js';
import type { PlannedFile } from '../file-records.store.js';
import { DISPLACED, isDisplacingMode } from '../operation.types.js';
import type { DisplacingMode, OrganizeOptions } from '../operation.types.js';
import { quarantineFolder } from './cleanup.runner.js';
import { OperationsRepository } from '../operations.repository.js';
import { removeEmptiedFolders } from './empty-folders.js';
import { JournalMover, MAX_RENAME_ATTEMPTS } from './journal-mover.js';
import type { MovePolicy } from './journal-mover.js';
import { parentOf, pending, releaseIfStopping, sameContentStamp } from './run-context.js';
import type { Pending, RunContext } from './run-context.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { ProtectedPathsService } from '../../protected-paths/protected-paths.service.js';
import { guardPlanned, protectedOutcome } from './protected-guard.js';

/** Planned records per insert statement. */
const INSERT_BATCH = 5000;
const INSERTS_IN_FLIGHT = 2;
/** A plan at least this large refreshes the planner's statistics of file_records. */
const ANALYZE_AFTER_ROWS = 5000;
/** Candidates per call of findDuplicates (whole size groups; a chunk may exceed it by one group). */
const CANDIDATE_CHUNK = 20_000;

/**
 * Runs an organize operation: plan every file (scan, categorize, destination) into the journal,
 * then move file by file in journal order, then remove the folders it emptied. A second run of
 * the same operation resumes from the journal and reconciles each planned move with the disk.
 */
@Injectable()
export class OrganizeRunner {
  /** Candidates per call of findDuplicates (CANDIDATE_CHUNK; tests make it small to cross chunk boundaries). */
  candidateChunk = CANDIDATE_CHUNK;

  constructor(
    private readonly records: FileRecordsStore,
    private readonly categories: CategoriesService,
    private readonly groups: DuplicateGroupsStore,
    private readonly mover: JournalMover,
    private readonly metrics: MetricsService,
    private readonly hashCaches: HashCacheStore,
    private readonly scanning: ScanningService,
    private readonly operations: OperationsRepository,
    private readonly protectedPaths: ProtectedPathsService,
  ) {}

  async run(context: RunContext): Promise<void> {
    const { operation, tracker } = context;
    // Planning is complete once a run left the scanning phase; a partial plan is made again.
    const planComplete = !['queued', 'scanning'].includes(tracker.progress.phase);
    /** The planner's statistics being refreshed after a large plan (see plan()); awaited before the moves. */
    let statistics: Pending<void> | undefined;
    try {
      if (!planComplete || !(await this.records.hasRecords(operation.id))) {
        await this.records.deleteAll(operation.id, context.epoch);
        tracker.set({ filesScanned: 0, bytesScanned: 0, errors: 0 });
        await tracker.enterPhase('scanning');
        if (operation.sourceOperationId) {
          await this.records.copyPlan(operation.sourceOperationId, operation.id, context.epoch, 'apply', {
            from: quarantineFolder(operation.sourceOperationId),
            to: quarantineFolder(operation.id),
          });
        } else {
          ({ statistics } = await this.plan(context));
        }
      }
      const counts = await this.records.countByStatus(operation.id);
      const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
      tracker.set({ filesTotal: total, filesScanned: Math.max(tracker.progress.filesScanned, total) });
      if (tracker.progress.phase === 'scanning' || tracker.progress.phase === 'hashing') {
        if (tracker.progress.phase === 'scanning') await tracker.enterPhase('hashing');
        await this.findDuplicates(context, total);
        if (tracker.isCancelRequested || operation.dryRun) return;
        await tracker.enterPhase('moving');
      }
      if (operation.dryRun) return;
      await statistics?.settled();
      tracker.set({ filesProcessed: total - (counts.planned ?? 0) });
      await this.moveAll(context);
      if (tracker.isCancelRequested) return;
      await tracker.enterPhase('finalizing');
      await this.removeEmptiedSourceFolders(context);
    } finally {
      // Never left running past the run (its failure matters only to the moves, which awaited it).
      await statistics?.settled().catch(() => undefined);
    }
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

  /**
   * Scan and plan: every regular file becomes a journal record before anything moves. The walk
   * and the planning of a batch go on while the previous batch is inserted (one insert in flight).
   * Answers the refresh of the planner's statistics it started after a large plan, still running.
   */
  private async plan(context: RunContext): Promise<{ statistics?: Pending<void> }> {
    const { operation, storage, tracker } = context;
    const options = this.options(context);
    const categorizer = await this.categories.categorizerFor(operation.userId);
    const protectedPaths = await this.protectedPaths.forUser(operation.userId);
    const destinations = new DestinationNames(storage, isDisplacingMode(options.onConflict));
    /** Entries the walk could not plan: unreadable ones (failed) and special files (skipped, never opened). */
    const failures: PlannedFile[] = [];
    let seq = 0;
    // Up to INSERTS_IN_FLIGHT inserts at once, each on its own connection (PostgreSQL works on
    // them in parallel); their errors are held until the next insert or the end of the plan.
    const inserting = new Set<Promise<void>>();
    let insertError: { error: unknown } | undefined;
    const insert = async (planned: PlannedFile[]): Promise<void> => {
      while (inserting.size >= INSERTS_IN_FLIGHT) await Promise.race(inserting);
      if (insertError) throw insertError.error;
      const done: Promise<void> = this.records
        .insert(operation.id, context.epoch, planned)
        .catch((error: unknown) => {
          insertError ??= { error };
        })
        .finally(() => inserting.delete(done));
      inserting.add(done);
    };
    const walk = this.scanning.files(storage, operation.rootPath, {
      includeHidden: options.includeHidden,
      onUnreadable: (error) => failures.push(this.failedRecord(error.path, error.reason, 0)),
      onSkipped: (entry) => failures.push({ ...this.failedRecord(entry.path, entry.reason, 0), status: 'skipped' }),
    });
    let planned: PlannedFile[] = [];
    let displacements = 0;
    // A watch's run leaves out files changed too recently: they may still be being written.
    const settledMs = operation.options.settledMs;
    const changedAfter = settledMs === undefined ? Infinity : Date.now() - settledMs;
    for await (const batch of walk) {
      let bytes = 0;
      let failed = 0;
      const { fileNames, byName } = await categorizeByName(categorizer, storage, batch, changedAfter);
      for (let i = 0; i < batch.length; i += 1) {
        const file = batch[i];
        if (file.mtimeMs > changedAfter) continue;
        // Matching names against the user's rules is CPU work: other requests and jobs get turns.
        if (eventLoopSliceDue()) await yieldEventLoop();
        const record = guardPlanned(
          protectedPaths,
          this.planFileWithoutWaiting(options, destinations, file, fileNames[i], byName[i], seq) ??
            (await this.planFile(context, categorizer, options, destinations, file, seq)),
        );
        // A record a protected path keeps in place displaces nothing either.
        const displaced = takeDisplacement(record);
        if (displaced && record.status === 'planned') {
          displacements += 1;
          // The file already at the destination moves aside first: its own journaled move, just
          // before the incoming one (a rollback, in reverse order, restores the incoming first).
          displaced.seq = seq;
          seq += 1;
          record.seq = seq;
          planned.push(displaced);
        }
        planned.push(record);
        if (record.status === 'failed') failed += 1;
        seq += 1;
        bytes += file.size;
      }
      for (const failure of failures.splice(0)) {
        failure.seq = seq;
        seq += 1;
        planned.push(failure);
        if (failure.status === 'failed') failed += 1;
      }
      if (planned.length >= INSERT_BATCH) {
        await insert(planned);
        planned = [];
      }
      tracker.add({ filesScanned: batch.length, bytesScanned: bytes, errors: failed });
      await tracker.tick();
      if (context.stopRequested?.()) {
        // The next run plans again (the phase is still scanning); no insert of this one may outlive it.
        await Promise.all(inserting);
        releaseIfStopping(context);
      }
    }
    for (const failure of failures.splice(0)) {
      failure.seq = seq;
      seq += 1;
      planned.push(failure);
      if (failure.status === 'failed') tracker.add({ errors: 1 });
    }
    if (planned.length > 0) await insert(planned);
    await Promise.all(inserting);
    if (insertError) throw insertError.error;
    // The planner's statistics of a table that just grew by a whole plan (see analyze()): the moves'
    // per-batch queries and the join below need them; the duplicate search does not (its one query
    // is planned as one sort whatever the statistics), so they are refreshed while it runs.
    const statistics = seq >= ANALYZE_AFTER_ROWS ? pending(this.records.analyze()) : undefined;
    // A file this plan moves elsewhere is not moved aside as well (its own move would then find the
    // incoming file at its source): the incoming file meets a taken or a freed name instead.
    if (displacements > 0) {
      await statistics?.settled();
      await this.records.skipDisplacingPlannedFiles(operation.id, context.epoch);
    }
    return { statistics };
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

  /**
   * Plans a file without a promise when its name and size decide its category (`categorization`,
   * from categorizeByName) and its destination folder's names are known; undefined otherwise (then
   * planFile does it).
   */
  private planFileWithoutWaiting(
    options: OrganizeOptions,
    destinations: DestinationNames,
    file: StoredFile,
    fileName: string,
    categorization: Categorization | undefined,
    seq: number,
  ): PlannedFile | undefined {
    if (!categorization) return undefined;
    if (categorization.exclude) return excludedRecord(file, seq, categorization);
    // A template that reads the file ({exif.*}, {hash8}, {created.*}) goes the slow way.
    const needs = templateNeeds(categorization.template ?? options.template);
    if (needs.created || needs.exif || needs.hash) return undefined;
    const wanted = this.destinationFor(options, categorization, fileName, file);
    const problem = destinations.problem(wanted);
    if (problem) return unusableDestination(file, seq, categorization, problem);
    // A taken name goes the slow way: finding a free one may have to stat.
    const inPlace = wanted === file.path;
    if (!destinations.claimWithoutWaiting(wanted, inPlace)) return undefined;
    const record = plannedRecord(file, seq, categorization, wanted);
    if (inPlace) {
      record.status = 'skipped';
      record.error = 'already in place';
    }
    return record;
  }

  /** Where the template puts a file of this category. */
  private destinationFor(
    options: OrganizeOptions,
    categorization: Categorization,
    fileName: string,
    file: StoredFile,
    facts: TemplateFacts = {},
  ): string {
    const rendered = renderTemplate(categorization.template ?? options.template, {
      ...facts,
      category: categorization.category,
      fileName,
      mtimeMs: file.mtimeMs,
      sourcePath: file.path,
      match: categorization.match,
    });
    return joinUserPath(options.destination, rendered);
  }

  private async planFile(
    context: RunContext,
    categorizer: Categorizer,
    options: OrganizeOptions,
    destinations: DestinationNames,
    file: StoredFile,
    seq: number,
  ): Promise<PlannedFile> {
    const { storage } = context;
    const fileName = baseNameOf(file.path);
    const categorization = await categorizer.categorize({
      fileName,
      size: file.size,
      mtimeMs: file.mtimeMs,
      readHead: () => storage.readHead(file.path, SNIFF_BYTES).catch(() => new Uint8Array()),
    });
    if (categorization.exclude) return excludedRecord(file, seq, categorization);
    const needs = templateNeeds(categorization.template ?? options.template);
    const facts = await gatherTemplateFacts(storage, file, needs);
    if (needs.hash && !facts.hash)
      return unusableDestination(file, seq, categorization, 'could not read it for {hash8}');
    const wanted = this.destinationFor(options, categorization, fileName, file, facts);
    const problem = destinations.problem(wanted);
    if (problem) return unusableDestination(file, seq, categorization, problem);
    await destinations.load(wanted);
    const claimed = this.claim(context, options, destinations, file, seq, categorization, wanted);
    return claimed instanceof Promise ? await claimed : claimed;
  }

  /**
   * The record of a file going to `wanted`, or to the first free numbered alternative: a name is
   * taken when the plan already gave it to another file or something was there at the scan.
   */
  private claim(
    context: RunContext | undefined,
    options: OrganizeOptions,
    destinations: DestinationNames,
    file: StoredFile,
    seq: number,
    categorization: Categorization,
    wanted: string,
  ): PlannedFile | Promise<PlannedFile> {
    const record = plannedRecord(file, seq, categorization, wanted);
    if (wanted === file.path) {
      destinations.claim(wanted);
      return { ...record, status: 'skipped', error: 'already in place' };
    }
    const taken = destinations.taken(wanted);
    if (taken === false) {
      destinations.claim(wanted);
      return record;
    }
    return (async () => {
      if (context && isDisplacingMode(options.onConflict) && !destinations.claimedByPlan(wanted)) {
        const displacing = await this.planDisplacement(context, options.onConflict, destinations, record);
        if (displacing) return displacing;
      }
      let candidate = wanted;
      for (let n = 1; await destinations.takenAsync(candidate); n += 1) {
        if (options.onConflict === 'skip') return { ...record, status: 'skipped', error: 'destination exists' };
        if (n > MAX_RENAME_ATTEMPTS) return { ...record, status: 'skipped', error: 'no free name' };
        candidate = numberedAlternative(wanted, n);
        // " (n)" makes the name longer: it may no longer fit.
        const problem = destinations.problem(candidate);
        if (problem) return unusableDestination(file, seq, categorization, problem);
      }
      destinations.claim(candidate);
      return { ...record, destinationPath: candidate };
    })();
  }

  /**
   * A displacing conflict mode and a destination taken by something this plan did not put there:
   * the incoming record with the displacement of the file already there (see takeDisplacement),
   * or the incoming record skipped (it loses the comparison; the destination is not a regular
   * file). Null when the destination turned out free (then the name is claimed as usual).
   */
  private async planDisplacement(
    context: RunContext,
    mode: DisplacingMode,
    destinations: DestinationNames,
    record: PlannedFile,
  ): Promise<PlannedWithDisplacement | null> {
    const { storage, operation } = context;
    const wanted = record.destinationPath as string;
    const existing = await storage.stat(wanted);
    if (!existing) {
      if (!(await destinations.takenAsync(wanted))) return null;
      // A folder, a link, a FIFO...: never moved aside, never written through.
      return { ...record, status: 'skipped', error: 'destination is not a regular file' };
    }
    const loses = losingReason(mode, record, existing);
    if (loses) return { ...record, status: 'skipped', error: loses };
    const quarantined = `${quarantineFolder(operation.id)}/${wanted}`;
    const problem = storage.lengthProblem?.(quarantined);
    if (problem)
      return { ...record, status: 'skipped', error: `the file at the destination cannot be moved aside: ${problem}` };
    destinations.claim(wanted);
    return {
      ...record,
      displaces: {
        seq: record.seq,
        sourcePath: wanted,
        destinationPath: quarantined,
        category: null,
        matchedBy: DISPLACED,
        size: existing.size,
        mtimeMs: existing.mtimeMs,
        hash: null,
        status: 'planned',
        error: null,
        dev: existing.dev || null,
        ino: existing.ino || null,
      },
    };
  }

  /**
   * The hashing phase: exact duplicate groups among the planned files (size, then partial hash,
   * then full hash), stored with the operation before anything moves. Runs again only when an
   * earlier run stopped before storing its groups. `journaled`: how many records the plan has (a
   * small plan's candidates are read in one statement).
   */
  private async findDuplicates(context: RunContext, journaled: number): Promise<void> {
    const { operation, storage, tracker } = context;
    /** The groups' totals when this run found them (no query needed), else read below. */
    let totals: GroupTotals | undefined;
    if (!(await this.groups.hasGroups(operation.id))) {
      // One engine; the hash source is the backend's: local disk reads files directly in the hash
      // threads (and knows hard links), other backends stream through the storage.
      const localFiles = storage.capabilities.localFiles;
      // Digests the backend already knows (S3: plain MD5 ETags from the walk) settle size groups
      // without reading them; only the ETags it vouches for are passed, so they can be trusted.
      const digests = storage.capabilities.knownDigests ?? null;
      const source = localFiles ? localFileHashes() : streamedHashes(storage, { trustEtags: digests !== null });
      const abort = new AbortController();
      let tickError: unknown;
      const ticker = setInterval(() => {
        if (tracker.isCancelRequested) abort.abort(new Error('cancelled'));
        tracker.tick().catch((error: unknown) => {
          tickError = error;
          abort.abort(error);
        });
      }, PROGRESS_INTERVAL_MS);
      const cache = await this.hashCaches.open(storage);
      try {
        /** Groups stored so far (provisionally: see DuplicateGroupsStore.saveProvisional), counted. */
        let stored: GroupTotals = { groups: 0, files: 0, redundant: 0, reclaimableBytes: 0 };
        let candidates = 0;
        // Whole size groups at a time, so that memory holds one chunk of candidates, not all; the
        // next chunk is read while this one is hashed. Each chunk's groups are stored as they are
        // found (nothing of them is held for the whole run): chunks come smallest sizes first and
        // hold whole sizes, so the order one search over every candidate gives (largest first,
        // then by first path) is the chunks' own orders, last chunk first.
        const chunks = this.records.duplicateCandidateChunks(operation.id, this.candidateChunk, journaled);
        let next = chunks.next();
        try {
          for (let current = await next; !current.done; current = await next) {
            next = chunks.next();
            // Held until awaited (a failed read is reported there, never as an unhandled rejection).
            next.catch(() => undefined);
            const seqByPath = new Map<string, number>();
            const files: CandidateFile[] = current.value.map((record) => {
              const where = localFiles ? localFiles.absolutePath(record.sourcePath) : record.sourcePath;
              seqByPath.set(where, record.seq);
              const etag = digests?.md5EtagOf(record.sourcePath);
              return {
                path: where,
                size: record.size,
                mtimeMs: record.mtimeMs,
                dev: record.dev,
                ino: record.ino,
                ...(etag === undefined ? {} : { etag }),
              };
            });
            candidates += files.length;
            const threads = localFiles ? hashThreadsFor(files) : undefined;
            const result = await findDuplicates(files, { source, signal: abort.signal, cache, threads });
            this.metrics.bytesHashed.inc(result.stats.bytesRead);
            const groups = result.groups.map((group) => ({
              hash: group.hash,
              size: group.size,
              seqs: group.paths.map((absolute) => seqByPath.get(absolute) as number),
            }));
            if (groups.length === 0) continue;
            await this.operations.fenced(operation.id, context.epoch, async (manager) => {
              // The groups an interrupted run stored for its first chunks (found again with the
              // rest) go with this run's first fenced write, not in a transaction of their own.
              if (stored.groups === 0) await this.groups.discardProvisional(manager, operation.id);
              await this.groups.saveProvisional(manager, operation.id, stored.groups, groups);
            });
            stored = withGroupTotals(stored, groups);
          }
        } finally {
          // Ends the cursor's transaction when the loop stopped early (an abort, an error).
          await next.catch(() => undefined);
          await chunks.return(undefined);
          // After a large search, the hash threads' memory back before the cache is saved (the
          // worker's peak otherwise). Not after small ones: the next search would pay for new
          // threads (60-200 ms of CPU), which a worker running many small operations cannot afford.
          if (candidates >= this.candidateChunk) await releaseIdleHashWorkers();
        }
        if (stored.groups > 0) {
          // The groups final, and their members' hashes, in one transaction that holds the run's lease.
          await this.operations.fenced(operation.id, context.epoch, async (manager) => {
            await this.groups.finishProvisional(manager, operation.id, stored.groups);
            const hashesSet = pending(this.records.setGroupMemberHashes(manager, operation.id));
            // The cache is serialized (main-thread work, ~90 ms for 100,000 files) and written while
            // PostgreSQL runs that update; save() reports its own failures and never rejects.
            await this.hashCaches.save(storage, cache);
            await hashesSet.settled();
          });
        } else {
          // No group: nothing to make final, no member hash to set; only what an interrupted run left goes.
          await this.operations.fenced(operation.id, context.epoch, (manager) =>
            this.groups.discardProvisional(manager, operation.id),
          );
          await this.hashCaches.save(storage, cache);
        }
        totals = stored;
      } catch (error) {
        if (tickError) throw tickError;
        if (abort.signal.aborted && tracker.isCancelRequested) return;
        throw error;
      } finally {
        clearInterval(ticker);
      }
    }
    totals ??= await this.groups.totals(operation.id);
    tracker.set({ duplicatesFound: totals.redundant, reclaimableBytes: totals.reclaimableBytes });
    if (tracker.hasUnsavedCounters) await tracker.flush();
  }

  private async moveAll(context: RunContext): Promise<void> {
    const { operation, storage } = context;
    const applying = operation.sourceOperationId !== null;
    const onConflict = this.options(context).onConflict;
    const policy: MovePolicy = {
      movedStatus: 'moved',
      // A destination taken again after a displacement was planned (or one that failed): replace
      // falls back to a numbered name, keep_newer / keep_larger to a skip. Never an overwrite.
      onConflict: onConflict === 'rename' || onConflict === 'replace' ? 'rename' : 'skip',
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
    const protectedPaths = await this.protectedPaths.forUser(operation.userId);
    await this.mover.processPlanned(
      context,
      (record) => protectedOutcome(protectedPaths, record) ?? this.mover.moveOne(context, record, policy),
    );
  }

  private async removeEmptiedSourceFolders(context: RunContext): Promise<void> {
    const { operation, storage } = context;
    const vacated = await this.records.movedSourceFolders(operation.id);
    const destination = this.options(context).destination;
    const keep = new Set<string>([destination]);
    for (let folder = destination; folder !== ''; folder = parentOf(folder)) keep.add(folder);
    const removed = await removeEmptiedFolders(storage, vacated, operation.rootPath, keep);
    await this.records.recordRemovedFolders(operation.id, removed);
    await storage.flush();
  }
}

/**
 * The names taken in each destination folder, read once per folder (one readdir instead of a
 * stat per planned file) and extended with every name the plan gives out. A file that appears
 * there after this look is still never overwritten: the move claims its name atomically and
 * renames on conflict.
 */
class DestinationNames {
  /** Per folder: its names, or null when it is not a folder we can list (then each name is stat'ed). */
  private readonly folders = new Map<string, Set<string> | null>();
  /** Names given out in folders that could not be listed. */
  private readonly claimedElsewhere = new Set<string>();
  /** Every name this plan gave out, kept only for the displacing conflict modes (see claimedByPlan). */
  private readonly givenOut: Set<string> | null;

  constructor(
    private readonly storage: UserStorage,
    trackGivenOut = false,
  ) {
    this.givenOut = trackGivenOut ? new Set() : null;
  }

  /**
   * Whether this plan already gave the name to a file: a displacing mode never moves aside a file
   * the same operation puts there (two incoming files of one name: the second gets a numbered name).
   */
  claimedByPlan(destination: string): boolean {
    return this.givenOut?.has(destination) ?? false;
  }

  /**
   * Why a destination rendered for one file cannot be given out (a reserved name, too long for
   * the filesystem or for an S3 key), or null: that file then fails, and the others go on.
   */
  problem(destination: string): string | null {
    return (
      (cannotHaveDestinationProblem(destination) ? null : destinationProblem(destination)) ??
      this.storage.lengthProblem(destination) ??
      null
    );
  }

  /**
   * Claims `destination` when its folder's names are known and it is free (or `inPlace`: the file
   * is already there), in one look-up of the folder; false when that takes a promise or the name
   * is taken (then claim() with takenAsync() decides).
   */
  claimWithoutWaiting(destination: string, inPlace: boolean): boolean {
    const slash = destination.lastIndexOf('/');
    const names = this.folders.get(slash < 0 ? '' : destination.slice(0, slash));
    if (!(names instanceof Set)) return false;
    const name = destination.slice(slash + 1);
    if (!inPlace && names.has(name)) return false;
    this.givenOut?.add(destination);
    names.add(flat(name));
    return true;
  }

  async load(destination: string): Promise<void> {
    const folder = parentOf(destination);
    if (this.folders.has(folder)) return;
    const index = this.storage.capabilities.folderNameIndex;
    this.folders.set(folder, index ? await index.namesIn(folder) : null);
  }

  /** True or false when known without a promise; undefined when takenAsync must look. */
  taken(destination: string): boolean | undefined {
    const names = this.folders.get(parentOf(destination));
    return names instanceof Set ? names.has(destination.slice(destination.lastIndexOf('/') + 1)) : undefined;
  }

  async takenAsync(destination: string): Promise<boolean> {
    await this.load(destination);
    const known = this.taken(destination);
    if (known !== undefined) return known;
    return this.claimedElsewhere.has(destination) || (await this.storage.stat(destination)) !== null;
  }

  claim(destination: string): void {
    this.givenOut?.add(destination);
    const names = this.folders.get(parentOf(destination));
    if (names instanceof Set) names.add(flat(destination.slice(destination.lastIndexOf('/') + 1)));
    else this.claimedElsewhere.add(destination);
  }
}

/** Characters of a destination short enough that no name in it, nor the whole, can exceed a byte limit. */
const SURELY_SHORT = Math.floor(Math.min(NAME_MAX_BYTES, MAX_PATH_BYTES) / 3);

/**
 * The name of each file of a walk's batch and its categorization where the name and size decide
 * it (undefined where the content must be read). The files whose content will be read are
 * advised to the storage all at once first (UserStorage.adviseHeads): one by one, each read of a
 * cold file waited for the disk (16,749 of the 100,000 files of the bench tree are sniffed).
 */
export async function categorizeByName(
  categorizer: Categorizer,
  storage: Pick<UserStorage, 'adviseHeads'>,
  batch: readonly StoredFile[],
  changedAfter: number,
): Promise<{ fileNames: string[]; byName: (Categorization | undefined)[] }> {
  const fileNames: string[] = new Array<string>(batch.length);
  const byName: (Categorization | undefined)[] = new Array<Categorization | undefined>(batch.length);
  const sniffed: string[] = [];
  for (let i = 0; i < batch.length; i += 1) {
    const file = batch[i];
    if (file.mtimeMs > changedAfter) continue;
    if (eventLoopSliceDue()) await yieldEventLoop();
    const fileName = baseNameOf(file.path);
    fileNames[i] = fileName;
    byName[i] = categorizer.categorizeWithoutContent({ fileName, size: file.size, mtimeMs: file.mtimeMs });
    if (byName[i] === undefined && file.size > 0) sniffed.push(file.path);
  }
  if (sniffed.length > 0) storage.adviseHeads?.(sniffed, SNIFF_BYTES);
  return { fileNames, byName };
}

/**
 * True when destinationProblem(destination) is surely null, seen in one pass over its characters
 * (planning asks once per file): ASCII only, no segment starting with "." (a reserved name starts
 * with one), and at most SURELY_SHORT characters (3 UTF-8 bytes a UTF-16 unit at most). False
 * says nothing: destinationProblem decides then.
 */
export function cannotHaveDestinationProblem(destination: string): boolean {
  if (destination.length > SURELY_SHORT) return false;
  let segmentStart = true;
  for (let i = 0; i < destination.length; i += 1) {
    const c = destination.charCodeAt(i);
    if (c >= 0x80 || (segmentStart && c === 0x2e) /* . */) return false;
    segmentStart = c === 0x2f /* / */ || c === 0x5c; /* \ */
  }
  return true;
}

/** The record of a file planned to move to `wanted`. */
function plannedRecord(file: StoredFile, seq: number, categorization: Categorization, wanted: string): PlannedFile {
  return {
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
}

/** The last segment of a walked file's path (path.posix.basename without its trailing-slash handling). */
function baseNameOf(filePath: string): string {
  return filePath.endsWith('/') ? path.posix.basename(filePath) : filePath.slice(filePath.lastIndexOf('/') + 1);
}

/** A planned record that may carry the displacement of the file at its destination (planned just before it). */
type PlannedWithDisplacement = PlannedFile & { displaces?: PlannedFile };

/** The displacement a record carries, detached from it (so it is not kept with the record), or undefined. */
function takeDisplacement(record: PlannedWithDisplacement): PlannedFile | undefined {
  const displaced = record.displaces;
  if (displaced) delete record.displaces;
  return displaced;
}

/**
 * Why the incoming file does not displace the one at its destination under `mode`, or null when
 * it does: keep_newer keeps the later mtime, keep_larger the larger size; a tie keeps the file
 * already there (nothing is moved for a difference that is not there).
 */
export function losingReason(
  mode: DisplacingMode,
  incoming: { size: number; mtimeMs: number },
  existing: { size: number; mtimeMs: number },
): string | null {
  if (mode === 'keep_newer') {
    // Within the precision a copy across filesystems keeps, two times are the same time.
    const tie = Math.abs(incoming.mtimeMs - existing.mtimeMs) < COPY_MTIME_TOLERANCE_MS;
    if (!tie && incoming.mtimeMs > existing.mtimeMs) return null;
    return tie
      ? 'same modification time as the file at the destination (tie: kept the file there)'
      : 'the file at the destination is newer';
  }
  if (mode === 'keep_larger') {
    if (incoming.size > existing.size) return null;
    return incoming.size === existing.size
      ? 'same size as the file at the destination (tie: kept the file there)'
      : 'the file at the destination is larger';
  }
  return null;
}

/** The record of a file whose rendered destination cannot be used: failed, with the reason. */
function unusableDestination(
  file: StoredFile,
  seq: number,
  categorization: Categorization,
  reason: string,
): PlannedFile {
  return {
    seq,
    sourcePath: file.path,
    destinationPath: null,
    category: categorization.category,
    matchedBy: categorization.matchedBy,
    size: file.size,
    mtimeMs: file.mtimeMs,
    hash: null,
    status: 'failed',
    error: reason,
    dev: file.dev || null,
    ino: file.ino || null,
  };
}

/** The record of a file a user rule with `exclude: true` keeps where it is. */
function excludedRecord(file: StoredFile, seq: number, categorization: Categorization): PlannedFile {
  return {
    ...unusableDestination(file, seq, categorization, `excluded by rule ${categorization.category}`),
    status: 'skipped',
  };
}

/**
 * A copy of `text` that does not keep the string it was sliced from alive (V8 makes a slice of 13
 * characters or more a view of its parent): half the memory per name on a million-file plan.
 */
function flat(text: string): string {
  return text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string);
}
