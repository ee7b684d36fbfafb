/**
 * Duplicate detection: our finder against jdupes, fdupes and rmlint on one generated tree, in one
 * run, warm and cold page cache. Prints a table and writes bench/results/duplicates-<files>.json.
 *
 *   npm run bench:duplicates -- [--files 100000] [--seed 1] [--runs 3] [--cold-runs 3] [--no-cold]
 *                               [--threads 2] [--root DIR] [--clean]
 *
 * The tree is generated once (default under the OS temp folder) and reused while its options are
 * the same; `--clean` removes it afterwards. Missing peers are installed from Debian's packages.
 *
 * Warm: every tool runs on a cache warmed by a listing and a full run. Cold: before each tool's
 * run, `sync; echo 3 > /proc/sys/vm/drop_caches` (root only): the run reads names, inodes and
 * bytes from disk. When the caches cannot be dropped, the cold rows are skipped and the JSON says
 * why (`cold.skipped`).
 *
 * Rows:
 * - `find -printf`: listing only, the floor of any tool that must see every file.
 * - `ours (in process)`: the service's walk (LocalUserStorage + scanner, bench/walk.ts walkCandidates) + findDuplicates, timed inside this process,
 *   as the organize worker runs it (no process start-up).
 * - `ours: hashing phase only`: findDuplicates alone on the walked list (the organize job's
 *   `hashing` phase; its scan phase walks anyway).
 * - `ours (new process)`: the same as a fresh `node` process, wall time, like the C tools are timed.
 * - `ours (cached re-run)`: walk + findDuplicates again with the hash cache of a previous run.
 * - `jdupes -r -q`, `fdupes -r -q -n`, `rmlint --without-fiemap -T df -o fdupes:FILE`.
 * Cold rows: find, ours (in process), ours (new process) and the three peers (the hashing phase and
 * the cached re-run are warm-only by nature).
 * Every tool's groups (warm and cold) are compared with ours after naming each inode by its
 * smallest path (see peer-output.ts); the run fails if any peer or the generator disagrees.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { findDuplicates } from '../src/modules/duplicates/duplicate-finder.js';
import type { DuplicateSearchResult } from '../src/modules/duplicates/duplicates.types.js';
import { HASH_SCHEME } from '../src/modules/duplicates/file-hasher.js';
import { PersistentHashCache } from '../src/modules/duplicates/persistent-hash-cache.js';
import { closeHashWorkers } from '../src/modules/duplicates/hash-pool.js';
import {
  arg,
  cpuSince,
  describeTree,
  dropCaches,
  ensureTools,
  flag,
  intArg,
  machine,
  median,
  prepareTree,
  removeTree,
  resultHeader,
  table,
  timed,
  writeResult,
} from './bench-util.js';
import { namesByInode, normalizeGroups, parseGroups } from './peer-output.js';
import { walkCandidates } from './walk.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** `--child ROOT`: one walk + find in a fresh process; prints the groups as JSON. */
async function child(root: string, threads: number): Promise<void> {
  const result = await findDuplicates(await walkCandidates(root), { threads });
  process.stdout.write(JSON.stringify(result.groups.map((g) => g.paths)));
  // Ends the hash threads as a command-line tool would. Without it, a pool thread that got no
  // batch (small trees use fewer threads than the pool starts) keeps the process alive until the
  // pool's 30 s idle timeout: Node 20 keeps a worker referenced when unref() comes before it is
  // online and it is never messaged.
  await closeHashWorkers();
}

interface Row {
  name: string;
  cache: 'warm' | 'cold';
  command: string;
  times: number[];
  median: number;
  /** CPU seconds (user + system, all threads) per run, when measured. */
  cpu: number[];
  cpuMedian?: number;
  groups?: number;
  redundant?: number;
  agrees?: boolean | null;
  note?: string;
}

async function main(): Promise<void> {
  const threads = intArg('threads', 2);
  if (flag('child')) return child(arg('child', ''), threads);

  const files = intArg('files', 100_000);
  const seed = intArg('seed', 1);
  const runs = Math.max(1, intArg('runs', 3));
  const coldRuns = flag('no-cold') ? 0 : intArg('cold-runs', runs);
  const startMachine = machine();
  const tree = prepareTree({ files, seed, root: flag('root') ? arg('root', '') : undefined });
  const root = tree.root;
  console.log(describeTree(tree));

  const tools = ensureTools(['jdupes', 'fdupes', 'rmlint']);
  // rmlint writes its fdupes-style list to a real file (never /dev/null: it would then print
  // nothing we can check), in a temp folder removed at the end.
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'fo-bench-rmlint-'));
  const rmlintOut = path.join(scratch, 'rmlint.fdupes.txt');
  const findArgs = [root, '-type', 'f', '-printf', '%s %T@ %p\n'];

  // Warm the page cache and the dentry cache.
  timed('find', findArgs);
  const walk = await walkCandidates(root);
  const names = namesByInode(walk);
  await findDuplicates(walk, { threads });

  const rows: Row[] = [];
  const row = (name: string, command: string, cache: Row['cache'] = 'warm'): Row => {
    const r: Row = { name, cache, command, times: [], median: 0, cpu: [] };
    rows.push(r);
    return r;
  };
  const findCommand = `find ${root} -type f -printf '%s %T@ %p\\n'`;
  const oursCommand = `walkCandidates + findDuplicates({ threads: ${threads} })`;
  const childArgs = [path.join(here, 'duplicates.bench.js'), '--child', root, '--threads', String(threads)];
  const childCommand = `node ${childArgs.join(' ')}`;
  const peers = [
    { tool: 'jdupes', args: ['-r', '-q', root] },
    { tool: 'fdupes', args: ['-r', '-q', '-n', root] },
    { tool: 'rmlint', args: ['--without-fiemap', '-T', 'df', '-o', `fdupes:${rmlintOut}`, root] },
  ].filter((p) => tools[p.tool]);
  const findRow = row('find -printf (listing only)', findCommand);
  const ours = row('ours (in process)', oursCommand);
  const oursHashing = row('ours: hashing phase only', `findDuplicates({ threads: ${threads} }) on the walked list`);
  const oursProcess = row('ours (new process)', childCommand);
  const oursCached = row('ours (cached re-run)', 'walkCandidates + findDuplicates({ cache }) after one run');
  const peerRows = peers.map((p) => ({ ...p, row: row(p.tool, `${p.tool} ${p.args.join(' ')}`) }));

  let reference: string[][] = [];
  let oursResult: DuplicateSearchResult | undefined;
  let walkMs = 0;
  let findMs = 0;
  // The cache a previous run wrote, as a later run loads it (loading is outside the timing).
  const learning = PersistentHashCache.empty(HASH_SCHEME);
  await findDuplicates(await walkCandidates(root), { threads, cache: learning });
  const cache = PersistentHashCache.load(HASH_SCHEME, learning.toBytes());
  const outputs = new Map<Row, string[][]>();

  /** Runs a peer and keeps its groups (rmlint's come from its output file, the others' from stdout). */
  const runPeer = (peer: (typeof peerRows)[number], target: Row): void => {
    const r = timed(peer.tool, peer.args);
    target.times.push(r.seconds);
    if (r.cpu !== undefined) target.cpu.push(r.cpu);
    const text = peer.tool === 'rmlint' ? readFileSync(rmlintOut, 'utf8') : r.stdout;
    outputs.set(target, normalizeGroups(parseGroups(text), names));
  };
  const runChild = (target: Row): void => {
    const proc = timed(process.execPath, childArgs);
    target.times.push(proc.seconds);
    if (proc.cpu !== undefined) target.cpu.push(proc.cpu);
    outputs.set(target, normalizeGroups(JSON.parse(proc.stdout) as string[][], names));
  };

  for (let round = 0; round < runs; round++) {
    const listing = timed('find', findArgs);
    findRow.times.push(listing.seconds);
    if (listing.cpu !== undefined) findRow.cpu.push(listing.cpu);

    const c0 = process.cpuUsage();
    let t = performance.now();
    const listed = await walkCandidates(root);
    const t1 = performance.now();
    const c1 = process.cpuUsage();
    oursResult = await findDuplicates(listed, { threads });
    const t2 = performance.now();
    ours.times.push((t2 - t) / 1000);
    ours.cpu.push(cpuSince(c0));
    oursHashing.times.push((t2 - t1) / 1000);
    oursHashing.cpu.push(cpuSince(c1));
    walkMs += t1 - t;
    findMs += t2 - t1;
    reference = normalizeGroups(
      oursResult.groups.map((g) => g.paths),
      names,
    );

    runChild(oursProcess);

    const c2 = process.cpuUsage();
    t = performance.now();
    await findDuplicates(await walkCandidates(root), { threads, cache });
    oursCached.times.push((performance.now() - t) / 1000);
    oursCached.cpu.push(cpuSince(c2));

    for (const peer of peerRows) runPeer(peer, peer.row);
  }

  // Cold: the caches are dropped before each tool's run, so each one starts from the disk.
  let coldSkipped: string | null = coldRuns > 0 ? dropCaches() : 'not asked (--no-cold or --cold-runs 0)';
  if (coldSkipped === null) {
    const coldFind = row('find -printf (listing only)', findCommand, 'cold');
    const coldOurs = row('ours (in process)', oursCommand, 'cold');
    const coldProcess = row('ours (new process)', childCommand, 'cold');
    const coldPeers = peerRows.map((p) => ({ ...p, row: row(p.tool, p.row.command, 'cold') }));
    for (let round = 0; round < coldRuns && coldSkipped === null; round++) {
      dropCaches();
      const listing = timed('find', findArgs);
      coldFind.times.push(listing.seconds);
      if (listing.cpu !== undefined) coldFind.cpu.push(listing.cpu);

      dropCaches();
      const c0 = process.cpuUsage();
      const t = performance.now();
      const result = await findDuplicates(await walkCandidates(root), { threads });
      coldOurs.times.push((performance.now() - t) / 1000);
      coldOurs.cpu.push(cpuSince(c0));
      outputs.set(
        coldOurs,
        normalizeGroups(
          result.groups.map((g) => g.paths),
          names,
        ),
      );

      dropCaches();
      runChild(coldProcess);
      for (const peer of coldPeers) {
        coldSkipped = dropCaches();
        if (coldSkipped !== null) break;
        runPeer(peer, peer.row);
      }
    }
  }
  if (coldSkipped !== null) console.log(`cold runs skipped: ${coldSkipped}`);
  rmSync(scratch, { recursive: true, force: true });

  const same = (a: string[][], b: string[][]): boolean => JSON.stringify(a) === JSON.stringify(b);
  const warmOnly = new Set([ours, oursHashing, oursCached]);
  for (const r of rows) {
    r.median = median(r.times);
    if (r.cpu.length > 0) r.cpuMedian = median(r.cpu);
    const groups = warmOnly.has(r) ? reference : outputs.get(r);
    if (groups) {
      r.groups = groups.length;
      r.redundant = groups.reduce((n, g) => n + g.length - 1, 0);
      r.agrees = same(groups, reference);
    } else r.agrees = null;
  }
  const expected = tree.expectedGroups;
  const matchesGenerator = same(reference, expected);
  const jdupesRow = (cache: Row['cache']): Row | undefined =>
    rows.find((r) => r.name === 'jdupes' && r.cache === cache);
  const ratio = (a: Row | undefined, b: Row | undefined): number | null => (a && b ? a.median / b.median : null);

  console.log(
    `\nmedian of ${runs} warm and ${coldSkipped === null ? coldRuns : 0} cold runs, ${os.cpus().length} CPUs, ` +
      `load average ${os.loadavg()[0].toFixed(1)}, node ${process.version}`,
  );
  console.log(
    `ours: walk ${(walkMs / runs / 1000).toFixed(3)} s + find ${(findMs / runs / 1000).toFixed(3)} s; ` +
      `${oursResult?.stats.candidates} candidates, ${oursResult?.stats.partialHashed} partial, ` +
      `${oursResult?.stats.fullHashed} full, ${((oursResult?.stats.bytesRead ?? 0) / 1e6).toFixed(0)} MB read, ` +
      `${oursResult?.stats.threads} threads; generator's groups ${matchesGenerator ? 'match' : 'DIFFER'}`,
  );
  const lines = rows.map((r) => {
    const jd = jdupesRow(r.cache);
    return [
      r.cache,
      r.name,
      r.median.toFixed(3),
      Math.min(...r.times).toFixed(3),
      jd ? `${(r.median / jd.median).toFixed(2)}x` : '-',
      r.cpuMedian === undefined ? '-' : r.cpuMedian.toFixed(2),
      r.cpuMedian !== undefined && jd?.cpuMedian ? `${(r.cpuMedian / jd.cpuMedian).toFixed(2)}x` : '-',
      r.groups === undefined ? '-' : String(r.groups),
      r.redundant === undefined ? '-' : String(r.redundant),
      r.agrees === null || r.agrees === undefined ? '-' : r.agrees ? 'yes' : 'NO',
    ];
  });
  console.log(
    table(
      [
        'cache',
        'tool',
        'median s',
        'min s',
        'vs jdupes',
        'cpu s',
        'cpu vs jdupes',
        'groups',
        'redundant',
        'same groups as ours',
      ],
      lines,
    ),
  );
  for (const r of rows.filter((x) => x.cache === 'warm')) console.log(`  ${r.name}: ${r.command}`);

  const peersAgree = rows.filter((r) => r.agrees !== null).every((r) => r.agrees);
  const out = writeResult(`duplicates-${files}`, {
    ...resultHeader('duplicates', startMachine, tree),
    runs,
    cold: { runs: coldSkipped === null ? coldRuns : 0, skipped: coldSkipped },
    threads,
    tools,
    ours: { walkSeconds: walkMs / runs / 1000, findSeconds: findMs / runs / 1000, stats: oursResult?.stats },
    rows,
    ratios: {
      warmOursVsJdupes: ratio(ours, jdupesRow('warm')),
      coldOursVsJdupes: ratio(
        rows.find((r) => r.cache === 'cold' && r.name === ours.name),
        jdupesRow('cold'),
      ),
      cachedRerunSpeedup: ours.median / oursCached.median,
    },
    groupsMatchGenerator: matchesGenerator,
    everyPeerAgrees: peersAgree,
  });
  console.log(`\nwrote ${out}`);
  if (!matchesGenerator || !peersAgree) {
    console.error('groups differ: see the table');
    process.exitCode = 1;
  }
  if (flag('clean')) removeTree(root);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  // This process ran findDuplicates too: end its hash threads rather than wait for their timeout.
  .finally(() => closeHashWorkers());
