import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { OperationJobs } from '../../queue/operation-jobs.js';

export const METRIC_PREFIX = 'fileorganizer_';

/**
 * Folds the +1/-1 rows that the `operations` triggers appended since the last scrape into one
 * count per type and status (see migration AddOperationStatusCounts), then reads those counts. A
 * scrape so costs the changes since the previous one, never a count of the whole table. Two
 * scrapes at once are safe: a delta row is deleted, and so added, by one of them only.
 */
const FOLD_OPERATION_COUNTS = `
  WITH moved AS (DELETE FROM operation_status_deltas RETURNING type, status, delta)
  INSERT INTO operation_status_counts (type, status, count)
  SELECT type, status, sum(delta) FROM moved GROUP BY type, status
  ON CONFLICT (type, status) DO UPDATE SET count = operation_status_counts.count + EXCLUDED.count`;

async function readOperationCounts(database: DataSource): Promise<{ type: string; status: string; count: string }[]> {
  await database.query(FOLD_OPERATION_COUNTS);
  return database.query('SELECT type, status, count FROM operation_status_counts WHERE count > 0');
}

/**
 * Every Prometheus metric of one process, in a registry of its own (several apps in one test
 * process must not share one). Modules that observe something inject this service; gauges that
 * need the database or the queue are read when Prometheus scrapes.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: `${METRIC_PREFIX}http_request_duration_seconds`,
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly jobDuration = new Histogram({
    name: `${METRIC_PREFIX}job_duration_seconds`,
    help: 'How long one run of an operation job took, by operation type and the status it left',
    labelNames: ['type', 'status'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  readonly operationsFinished = new Counter({
    name: `${METRIC_PREFIX}operation_jobs_total`,
    help: 'Operation job runs in this process, by operation type and the status they left',
    labelNames: ['type', 'status'] as const,
    registers: [this.registry],
  });

  readonly filesMoved = new Counter({
    name: `${METRIC_PREFIX}files_moved_total`,
    help: 'Files moved by operations in this process (organize: moved, cleanup: quarantined, rollback: restored)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly bytesHashed = new Counter({
    name: `${METRIC_PREFIX}bytes_hashed_total`,
    help: 'Bytes read to hash file content while looking for duplicates',
    registers: [this.registry],
  });

  /** Open Socket.IO connections; the gateway calls inc() on connect and dec() on disconnect. */
  readonly socketConnections = new Gauge({
    name: `${METRIC_PREFIX}socket_connections`,
    help: 'Open Socket.IO connections, by namespace',
    labelNames: ['namespace'] as const,
    registers: [this.registry],
  });

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: OperationJobs,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    const database = this.dataSource;
    const queue = this.jobs;
    new Gauge({
      name: `${METRIC_PREFIX}operations`,
      help: 'Operations in the database, by type and status (all users, all processes)',
      labelNames: ['type', 'status'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await readOperationCounts(database).catch(() => []);
        for (const row of rows) this.set({ type: row.type, status: row.status }, Number(row.count));
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}queue_jobs`,
      help: 'Jobs in the operations queue by state (waiting, active, delayed, failed, completed)',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const counts = await queue.counts().catch(() => null);
        if (!counts) return;
        for (const [state, count] of Object.entries(counts)) this.set({ queue: 'operations', state }, count);
      },
    });
  }

  /** Runs one operation job, then records its duration and outcome under the labels it then has (type, status). */
  async timeJob(run: () => Promise<void>, labelsAfter: () => Promise<{ type: string; status: string }>): Promise<void> {
    const end = this.jobDuration.startTimer();
    try {
      await run();
    } finally {
      const labels = await labelsAfter().catch(() => ({ type: 'unknown', status: 'unknown' }));
      end(labels);
      this.operationsFinished.inc(labels);
    }
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
