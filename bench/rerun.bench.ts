/**
 * Re-run: duplicate detection a second time on an unchanged tree, with the hash cache of the first
 * run; the figure judged is second / the bare walk (issue 16: at most 1.2x, a re-run is the walk plus
 * cache lookups and nothing else), first / second is reported. Prints a table and writes
 * bench/results/rerun-<files>.json.
 *
 *   npm run bench:rerun -- [--files 100000] [--seed 1] [--runs 3] [--threads 2] [--root DIR] [--clean]
 *
 * Uses the duplicates scenario's tree (same options, same cached folder). Each round starts a new,
 * empty PersistentHashCache (the one the organize job keeps per user), then times, in this process:
 * - first: walkCandidates + findDuplicates({ cache }), which hashes and fills the cache, then the cache
 *   written to bytes (what the job stores beside the user's folder);
 * - second: the cache loaded from those bytes (a later job's start), then walkCandidates + findDuplicates,
 *   which finds every hash in it.
 * Both on a warm page cache (a warm-up run precedes the rounds), so the ratio is what the cache
 * saves, not what the disk costs: the conservative figure. The walk alone is timed too, since a
 * fully cached run still walks and its time bounds the ratio from above. The target is judged on
 * walk + find (as duplicates.bench.ts's `cached re-run` row) against the walk alone; the find alone
 * (the organize job's hashing phase, which gets its list from the scan phase's records) is
 * reported beside it.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { findDuplicates } from '../src/modules/duplicates/duplicate-finder.js';
import { HASH_SCHEME } from '../src/modules/duplicates/file-hasher.js';
import { PersistentHashCache } from '../src/modules/duplicates/persistent-hash-cache.js';
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
  resultHeader,
  table,
  writeResult,
} from './bench-util.js';
import { walkCandidates } from './walk.js';

/** Issue 16: the second run at most this many times the bare walk. */
const TARGET_VS_WALK = 1.2;

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
  await findDuplicates(await walkCandidates(root), { threads });

  const first: number[] = [];
  const second: number[] = [];
  const walkOnly: number[] = [];
  const hits: number[] = [];
  let sameGroups = true;
  const firstHashing: number[] = [];
  const secondHashing: number[] = [];
  /** walkCandidates + findDuplicates, timed whole and for the find alone. */
  const cacheBytes: number[] = [];
  /** (load the cache,) walkCandidates + findDuplicates, (save the cache,) timed whole and for the find alone. */
  const detect = async (bytes: Buffer | null, whole: number[], hashing: number[]) => {
    const t = performance.now();
    const cache = bytes ? PersistentHashCache.load(HASH_SCHEME, bytes) : PersistentHashCache.empty(HASH_SCHEME);
    const listed = await walkCandidates(root);
    const t1 = performance.now();
    const result = await findDuplicates(listed, { threads, cache });
    const t2 = performance.now();
    const saved = cache.learned > 0 ? cache.toBytes() : bytes;
    const t3 = performance.now();
    whole.push((t3 - t) / 1000);
    hashing.push((t2 - t1) / 1000);
    return { result, saved };
  };
  for (let round = 0; round < runs; round++) {
    const { result: a, saved } = await detect(null, first, firstHashing);
    if (!saved) throw new Error('the first run learned no hash');
    cacheBytes.push(saved.length);
    const { result: b } = await detect(saved, second, secondHashing);
    hits.push(b.stats.cacheHits);
    const paths = (r: typeof a): string => JSON.stringify(r.groups.map((g) => g.paths));
    if (paths(a) !== paths(b)) sameGroups = false;

    const t = performance.now();
    await walkCandidates(root);
    walkOnly.push((performance.now() - t) / 1000);
  }
  const ratio = median(first) / median(second);
  const hashingRatio = median(firstHashing) / median(secondHashing);
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
        ['hashing phase only, first', median(firstHashing).toFixed(3), Math.min(...firstHashing).toFixed(3), '1.00x'],
        [
          'hashing phase only, second',
          median(secondHashing).toFixed(3),
          Math.min(...secondHashing).toFixed(3),
          `${hashingRatio.toFixed(2)}x`,
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
  const secondVsWalk = median(second) / median(walkOnly);
  console.log(
    `second run / bare walk ${secondVsWalk.toFixed(2)}x (target <= ${TARGET_VS_WALK}x: ` +
      `${secondVsWalk <= TARGET_VS_WALK ? 'met' : 'NOT met'}); first/second ${ratio.toFixed(2)}x; ` +
      `hashing phase alone ${hashingRatio.toFixed(2)}x; ` +
      `cache hits in the second run: ${median(hits)}; same groups: ${sameGroups ? 'yes' : 'NO'}`,
  );

  const out = writeResult(`rerun-${files}`, {
    ...resultHeader('rerun', startMachine, tree),
    runs,
    threads,
    cache: 'PersistentHashCache: the first run fills it and writes it to bytes, the second loads them (both timed)',
    cacheBytes: median(cacheBytes),
    pageCache: 'warm',
    firstSeconds: first,
    secondSeconds: second,
    walkOnlySeconds: walkOnly,
    firstHashingSeconds: firstHashing,
    secondHashingSeconds: secondHashing,
    firstMedian: median(first),
    secondMedian: median(second),
    walkOnlyMedian: median(walkOnly),
    ratio,
    ratioCeilingWalkBound: ceiling,
    hashingPhaseRatio: hashingRatio,
    secondVsWalk,
    target: TARGET_VS_WALK,
    met: secondVsWalk <= TARGET_VS_WALK,
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
