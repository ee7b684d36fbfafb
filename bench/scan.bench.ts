/**
 * Scan: the production walk (scanFiles over LocalUserStorage.walkTree, what the organize runner's
 * planning phase iterates) against `find DIR -type f -printf '%s %T@ %p\n' > /dev/null` on one generated tree,
 * warm cache. Prints a table and writes bench/results/scan-<files>.json.
 *
 *   npm run bench:scan -- [--files 1000000] [--seed 1] [--runs 5] [--content sparse|full] [--layers dirfd,path]
 *                         [--root DIR] [--clean]
 *
 * The tree is `sparse` by default: the same names, log-normal sizes, empty files and hard links as
 * the duplicates tree, but no data (see tree-generator.ts): a listing reads names and inodes only,
 * and 1,000,000 files with data would be ~20 GB to write. `--content full` uses (and shares) the
 * duplicates tree instead. The tree is kept under the OS temp folder for the next run; `--clean`
 * removes it.
 *
 * Rows:
 * - `find -printf > /dev/null`: the floor, a C program doing readdir + stat per file.
 * - `ours <layer> (new process)`: a fresh `node` running bench/scan-child.ts (LocalUserStorage.open +
 *   scanFiles to the end), wall time as find is timed (process start and module loading included); the
 *   child's own time for the walk alone is the next row.
 * - `ours <layer> (in process)`: the same iteration in this process, already loaded, as the worker
 *   runs it.
 *   Each for every local file layer in `--layers` (default both): `dirfd`, the directory-descriptor
 *   layer the service uses on Linux, and `path`, the path-based fallback (STORAGE_FILE_LAYER), so
 *   what the descriptor layer gains or costs is read side by side.
 * - `bench/walk.ts (reference)`: the bench's plain readdirSync + lstatSync walk, no sorting, no
 *   batches, for what the production walk's extra work costs.
 * Every row must count the same files as find does.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  arg,
  cpuSince,
  describeTree,
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
import { scanOurs } from './scan-child.js';
import type { FileLayer } from './scan-child.js';
import { walkFiles } from './walk.js';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Row {
  name: string;
  command: string;
  times: number[];
  cpu: number[];
  median?: number;
  cpuMedian?: number;
  vsFind?: number;
  files?: number;
  note?: string;
}

async function main(): Promise<void> {
  const files = intArg('files', 1_000_000);
  const seed = intArg('seed', 1);
  const runs = Math.max(1, intArg('runs', 5));
  const content = arg('content', 'sparse');
  if (content !== 'sparse' && content !== 'full') throw new Error('--content must be sparse or full');
  const layers = arg('layers', 'dirfd,path')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const layer of layers) if (layer !== 'dirfd' && layer !== 'path') throw new Error('--layers takes dirfd,path');
  const startMachine = machine();
  const tree = prepareTree({ files, seed, content, root: flag('root') ? arg('root', '') : undefined });
  const root = tree.root;
  console.log(describeTree(tree));

  const findArgs = [root, '-type', 'f', '-printf', '%s %T@ %p\\n'];
  const findCommand = `find ${root} -type f -printf '%s %T@ %p\\n' > /dev/null`;
  // Warm the dentry and inode caches, and count what find sees (untimed).
  const expected = timed('find', [root, '-type', 'f', '-printf', '.']).stdout.length;
  for (const layer of layers) await scanOurs(root, layer as FileLayer);
  walkFiles(root);

  const rows: Row[] = [];
  const row = (name: string, command: string): Row => {
    const r: Row = { name, command, times: [], cpu: [] };
    rows.push(r);
    return r;
  };
  const findRow = row('find -printf > /dev/null', findCommand);
  const childScript = path.join(here, 'scan-child.js');
  const perLayer = layers.map((name) => {
    const layer = name as FileLayer;
    return {
      layer,
      proc: row(`ours ${layer} (new process)`, `STORAGE_FILE_LAYER=${layer} node ${childScript} ${root}`),
      procInner: row(`ours ${layer} (new process, walk only)`, 'the same, timed inside the child'),
      inProc: row(
        `ours ${layer} (in process)`,
        `LocalUserStorage.open(root, _, '${layer}') + for await (scanFiles(storage, ''))`,
      ),
    };
  });
  const ref = row('bench/walk.ts (reference)', 'walkFiles(root): readdirSync + lstatSync');
  const counts = new Map<Row, number>();

  // Interleaved rounds, so a noisy moment of the shared machine hits every row alike.
  for (let round = 0; round < runs; round++) {
    const f = timed('find', findArgs, 'null');
    findRow.times.push(f.seconds);
    if (f.cpu !== undefined) findRow.cpu.push(f.cpu);

    for (const { layer, proc, procInner, inProc } of perLayer) {
      const p = timed(process.execPath, [childScript, root], 'capture', { ...process.env, STORAGE_FILE_LAYER: layer });
      proc.times.push(p.seconds);
      if (p.cpu !== undefined) proc.cpu.push(p.cpu);
      const seen = JSON.parse(p.stdout) as { files: number; seconds: number };
      procInner.times.push(seen.seconds);
      counts.set(proc, seen.files).set(procInner, seen.files);

      const c = process.cpuUsage();
      const t = performance.now();
      const ours = await scanOurs(root, layer);
      inProc.times.push((performance.now() - t) / 1000);
      inProc.cpu.push(cpuSince(c));
      counts.set(inProc, ours.files);
    }

    const c = process.cpuUsage();
    const t = performance.now();
    const listed = walkFiles(root);
    ref.times.push((performance.now() - t) / 1000);
    ref.cpu.push(cpuSince(c));
    counts.set(ref, listed.length);
  }
  counts.set(findRow, expected);

  const findMedian = median(findRow.times);
  for (const r of rows) {
    r.median = median(r.times);
    if (r.cpu.length > 0) r.cpuMedian = median(r.cpu);
    r.vsFind = r.median / findMedian;
    r.files = counts.get(r);
  }
  const allSame = rows.every((r) => r.files === expected);

  console.log(
    `\nscan of ${expected} files, median of ${runs} runs, warm cache, ${os.cpus().length} CPUs, ` +
      `load average ${os.loadavg()[0].toFixed(1)}, node ${process.version}`,
  );
  console.log(
    table(
      ['scanner', 'median s', 'min s', 'vs find', 'cpu s', 'files/s', 'files'],
      rows.map((r) => [
        r.name,
        (r.median as number).toFixed(3),
        Math.min(...r.times).toFixed(3),
        `${(r.vsFind as number).toFixed(2)}x`,
        r.cpuMedian === undefined ? '-' : r.cpuMedian.toFixed(2),
        Math.round(expected / (r.median as number)).toLocaleString('en-US'),
        r.files === expected ? String(r.files) : `${r.files} (find: ${expected})`,
      ]),
    ),
  );
  for (const r of rows) console.log(`  ${r.name}: ${r.command}`);

  const out = writeResult(`scan-${files}`, {
    ...resultHeader('scan', startMachine, tree),
    runs,
    cache: 'warm',
    filesSeen: expected,
    sameCountEverywhere: allSame,
    rows,
    layers,
    // The service's layer (dirfd, where it loads) is the judged one; the fallback is reported beside it.
    ratios: {
      ...Object.fromEntries(
        perLayer.flatMap(({ layer, proc, inProc }) => [
          [`${layer}NewProcessVsFind`, proc.vsFind],
          [`${layer}InProcessVsFind`, inProc.vsFind],
        ]),
      ),
      oursNewProcessVsFind: perLayer[0]?.proc.vsFind,
      oursInProcessVsFind: perLayer[0]?.inProc.vsFind,
      referenceWalkVsFind: ref.vsFind,
    },
  });
  console.log(`\nwrote ${out}`);
  if (!allSame) {
    console.error('the scanners saw different file counts: see the table');
    process.exitCode = 1;
  }
  if (flag('clean')) removeTree(root);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
