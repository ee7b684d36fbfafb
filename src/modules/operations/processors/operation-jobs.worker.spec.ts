import type { Queue } from 'bull';
import { loadConfig } from '../../../config/app-config.js';
import { OperationJobName } from '../../../queue/operation-jobs.js';
import type { MetricsService } from '../../metrics/metrics.service.js';
import type { StorageService } from '../../storage/storage.service.js';
import type { FileRecordsStore } from '../file-records.store.js';
import type { OperationsRepository } from '../operations.repository.js';
import type { ProgressTracking } from '../progress-tracker.js';
import { missingJobHandlers, OperationJobsWorker } from './operation-jobs.worker.js';

/** A stand-in for Bull's queue: the handler table @nestjs/bull fills, and the calls the worker makes. */
function fakeQueue(handlerNames: string[]) {
  const processCalls: unknown[][] = [];
  const queue = {
    handlers: Object.fromEntries(handlerNames.map((name) => [name, () => undefined])),
    process: (...args: unknown[]) => {
      processCalls.push(args);
      return new Promise(() => undefined);
    },
    on: () => queue,
  };
  return { queue, processCalls };
}

function workerOn(queue: object, concurrency: string): OperationJobsWorker {
  return new OperationJobsWorker(
    queue as unknown as Queue,
    loadConfig({ WORKER_CONCURRENCY: concurrency }),
    {} as OperationsRepository,
    {} as FileRecordsStore,
    {} as StorageService,
    {} as ProgressTracking,
    {} as MetricsService,
  );
}

describe('the operations queue start-up check', () => {
  const everyName = Object.values(OperationJobName);

  it('names the job names without a handler', () => {
    expect(missingJobHandlers(everyName)).toEqual([]);
    expect(missingJobHandlers(['organize', 'run'])).toEqual([
      OperationJobName.Apply,
      OperationJobName.Rollback,
      OperationJobName.CleanupDuplicates,
      OperationJobName.FindSimilarImages,
    ]);
  });

  it('fails start-up when a job name has no processor, and fetches nothing', () => {
    const { queue, processCalls } = fakeQueue(everyName.filter((name) => name !== OperationJobName.Rollback));
    expect(() => workerOn(queue, '3').onApplicationBootstrap()).toThrow(/no processor for job name\(s\) rollback/);
    expect(processCalls).toEqual([]);
  });

  it('fails start-up when the queue does not show its handlers', () => {
    const { queue } = fakeQueue(everyName);
    expect(() => workerOn({ ...queue, handlers: undefined }, '3').onApplicationBootstrap()).toThrow(
      /cannot read the handlers/,
    );
  });

  it('starts WORKER_CONCURRENCY fetch loops once, for every kind together', () => {
    const { queue, processCalls } = fakeQueue(everyName);
    workerOn(queue, '3').onApplicationBootstrap();
    expect(processCalls).toHaveLength(1);
    expect(processCalls[0].slice(0, 2)).toEqual(['*', 3]);
  });
});
