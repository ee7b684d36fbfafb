/**
 * Re-run: duplicate detection a second time on an unchanged tree, with the hash cache of the first
 * run; the figure is first / second (target: at least 10x). Prints a table and writes
 * bench/results/rerun-<files>.json.
 *
 *   npm run bench:rerun -- [--files 100000] [--seed 1] [--runs 3] [--threads 2] [--root DIR] [--clean]
 *
 * Uses the duplicates scenario's tree (same options, same cached folder). Each round starts a new,
 * empty InMemoryHashCache (src/modules/duplicates/hash-cache.ts), then times, in this process:
 * - first: walkFiles + findDuplicates({ cache }), which hashes and fills the cache;
 * - second: the same again, which finds every hash in the cache.
 * Both on a warm page cache (a warm-up run precedes the rounds), so the ratio is what the cache
 * saves, not what the disk costs: the conservative figure. The walk alone is timed too, since a
 * fully cached run still walks and its time bounds the ratio from above.
 *
 * In-process because the hash cache is in memory and lives as long as the process. The persistent
 * cache (a file per user, being merged) would make the second run a new process; measure it then.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { findDuplicates } from '../src/modules/duplicates/duplicate-finder.js';
import { InMemoryHashCache } from '../src/modules/duplicates/hash-cache.js';
import { closeHashWorkers } from '../src/modules/duplicates/hash-pool.js';
import {
  arg,
  describeTree,
  flag,
  intArg,
  machine,
  median,
  prepareTree,
  removeTree,
  table,
  writeResult,
} from './bench-util.js';
import { walkFiles } from './walk.js';

const TARGET = 10;

async function main(): Promise<void> {
  const files = intArg('files', 100_000);
  const seed = intArg('seed', 1);
  const runs = Math.max(1, intArg('runs', 3));
  const threads = intArg('threads', 2);
  const startMachine = machine();
  const tree = prepareTree({ files, seed, root: flag('root') ? arg('root', '') : undefined });
  const root = tree.root;
  console.log(describeTree(tree));

  // Warm-up: page cache, dentries, the hash threads.
  await findDuplicates(walkFiles(root), { threads });

  const first: number[] = [];
  const second: number[] = [];
  const walkOnly: number[] = [];
  const hits: number[] = [];
  let sameGroups = true;
  for (let round = 0; round < runs; round++) {
    const cache = new InMemoryHashCache();
    let t = performance.now();
    const a = await findDuplicates(walkFiles(root), { threads, cache });
    first.push((performance.now() - t) / 1000);

    t = performance.now();
    const b = await findDuplicates(walkFiles(root), { threads, cache });
    second.push((performance.now() - t) / 1000);
    hits.push(b.stats.cacheHits);
    const paths = (r: typeof a): string => JSON.stringify(r.groups.map((g) => g.paths));
    if (paths(a) !== paths(b)) sameGroups = false;

    t = performance.now();
    walkFiles(root);
    walkOnly.push((performance.now() - t) / 1000);
  }
  const ratio = median(first) / median(second);
  const ceiling = median(first) / median(walkOnly);

  console.log(
    `\nre-run on an unchanged tree, median of ${runs} rounds, warm page cache, ${os.cpus().length} CPUs, ` +
      `load average ${os.loadavg()[0].toFixed(1)}, node ${process.version}`,
  );
  console.log(
    table(
      ['run', 'median s', 'min s', 'first / this'],
      [
        ['first (empty cache)', median(first).toFixed(3), Math.min(...first).toFixed(3), '1.00x'],
        [
          'second (cache of the first)',
          median(second).toFixed(3),
          Math.min(...second).toFixed(3),
          `${ratio.toFixed(2)}x`,
        ],
        [
          'walk alone (bound of any cached run)',
          median(walkOnly).toFixed(3),
          Math.min(...walkOnly).toFixed(3),
          `${ceiling.toFixed(2)}x`,
        ],
      ],
    ),
  );
  console.log(
    `ratio first/second ${ratio.toFixed(2)}x (target >= ${TARGET}x: ${ratio >= TARGET ? 'met' : 'NOT met'}); ` +
      `cache hits in the second run: ${median(hits)}; same groups: ${sameGroups ? 'yes' : 'NO'}`,
  );

  const out = writeResult(`rerun-${files}`, {
    scenario: 'rerun',
    date: new Date().toISOString(),
    machine: startMachine,
    tree: {
      root,
      options: tree.options,
      stats: tree.stats,
      reused: tree.reused,
      generateSeconds: tree.generateSeconds,
    },
    runs,
    threads,
    cache: 'InMemoryHashCache, in process (the first run fills it)',
    pageCache: 'warm',
    firstSeconds: first,
    secondSeconds: second,
    walkOnlySeconds: walkOnly,
    firstMedian: median(first),
    secondMedian: median(second),
    walkOnlyMedian: median(walkOnly),
    ratio,
    ratioCeilingWalkBound: ceiling,
    target: TARGET,
    met: ratio >= TARGET,
    cacheHitsSecondRun: median(hits),
    sameGroups,
  });
  console.log(`\nwrote ${out}`);
  if (!sameGroups) process.exitCode = 1;
  if (flag('clean')) removeTree(root);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => closeHashWorkers());
