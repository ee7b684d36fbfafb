/**
 * Duplicate detection: our finder against jdupes, fdupes and rmlint on one generated tree, in one
 * run, warm page cache. Prints a table and writes JSON to bench/results/.
 *
 *   npm run bench:duplicates -- [--files 100000] [--seed 1] [--runs 3] [--threads 2] [--root DIR] [--clean]
 *
 * The tree is generated once (default under the OS temp folder) and reused while its options are
 * the same; `--clean` removes it afterwards.
 *
 * Rows:
 * - `find -printf`: listing only, the floor of any tool that must see every file.
 * - `ours (in process)`: walk (readdirSync + lstatSync) + findDuplicates, timed inside this process,
 *   as the organize worker runs it (no process start-up).
 * - `ours: hashing phase only`: findDuplicates alone on the walked list (the organize job's
 *   `hashing` phase; its scan phase walks anyway).
 * - `ours (new process)`: the same as a fresh `node` process, wall time, like the C tools are timed.
 * - `ours (cached re-run)`: walk + findDuplicates again with the hash cache of a previous run.
 * - `jdupes -r -q`, `fdupes -r -q -n`, `rmlint --without-fiemap -T df -o fdupes:FILE`.
 * Every tool's groups are compared with ours after naming each inode by its smallest path (see
 * peer-output.ts); the run fails if jdupes disagrees.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { findDuplicates } from '../src/modules/duplicates/duplicate-finder.js';
import type { DuplicateSearchResult } from '../src/modules/duplicates/duplicates.types.js';
import { InMemoryHashCache } from '../src/modules/duplicates/hash-cache.js';
import { namesByInode, normalizeGroups, parseGroups } from './peer-output.js';
import { generateTree, type TreeOptions } from './tree-generator.js';
import { walkFiles } from './walk.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/** `--child ROOT`: one walk + find in a fresh process; prints the groups as JSON. */
async function child(root: string, threads: number): Promise<void> {
  const result = await findDuplicates(walkFiles(root), { threads });
  process.stdout.write(JSON.stringify(result.groups.map((g) => g.paths)));
}

interface Row {
  name: string;
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function ensureTool(tool: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0) return true;
  if (process.getuid?.() !== 0) return false;
  console.log(`installing ${tool} from Debian's packages...`);
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  spawnSync('apt-get', ['install', '-y', '-qq', tool], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

const TIME = '/usr/bin/time';
const haveTime = existsSync(TIME);
let timeOutput = '';

/** Runs a command; wall time, and its CPU time (user + system) when /usr/bin/time is there. */
function timed(command: string, args: string[]): { seconds: number; cpu?: number; stdout: string } {
  const wrapped = haveTime ? [TIME, ['-f', '%U %S', '-o', timeOutput, command, ...args]] : [command, args];
  const start = performance.now();
  const run = spawnSync(wrapped[0] as string, wrapped[1] as string[], {
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
  });
  const seconds = (performance.now() - start) / 1000;
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`${command} exited with ${run.status}: ${run.stderr.slice(0, 500)}`);
  let cpu: number | undefined;
  if (haveTime) {
    const [user, sys] = readFileSync(timeOutput, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
    cpu = user + sys;
  }
  return { seconds, cpu, stdout: run.stdout };
}

/** CPU seconds of this process (every thread) since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

async function main(): Promise<void> {
  const threads = Number(arg('threads', '2'));
  if (flag('child')) return child(arg('child', ''), threads);

  const files = Number(arg('files', '100000'));
  const seed = Number(arg('seed', '1'));
  const runs = Number(arg('runs', '3'));
  const root = path.resolve(arg('root', path.join(os.tmpdir(), `fo-bench-dup-${files}-${seed}`)));
  const treeOptions: TreeOptions = { root, files, seed };

  // The tree is kept between runs (its manifest sits beside it, outside the tree).
  const manifestPath = `${root}.manifest.json`;
  let manifest: ReturnType<typeof generateTree> | undefined;
  if (existsSync(manifestPath) && existsSync(root)) {
    const saved = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      options: TreeOptions;
      tree: ReturnType<typeof generateTree>;
    };
    if (JSON.stringify(saved.options) === JSON.stringify(treeOptions)) manifest = saved.tree;
  }
  if (!manifest) {
    rmSync(root, { recursive: true, force: true });
    console.log(`generating ${files} files under ${root} (seed ${seed})...`);
    const t = performance.now();
    manifest = generateTree(treeOptions);
    writeFileSync(manifestPath, JSON.stringify({ options: treeOptions, tree: manifest }));
    console.log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const s = manifest.stats;
  console.log(
    `tree: ${s.files} files, ${(s.bytes / 1e9).toFixed(2)} GB, ${s.groups} groups, ${s.redundantCopies} redundant copies ` +
      `(${(s.reclaimableBytes / 1e6).toFixed(0)} MB), decoys ${JSON.stringify(s.decoys)}, ${s.emptyFiles} empty, ${s.hardLinks} hard links`,
  );

  const tools = {
    jdupes: ensureTool('jdupes'),
    fdupes: ensureTool('fdupes'),
    rmlint: ensureTool('rmlint'),
  };
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'fo-bench-rmlint-'));
  const rmlintOut = path.join(scratch, 'rmlint.fdupes.txt');
  timeOutput = path.join(scratch, 'time.txt');

  // Warm the page cache and the dentry cache.
  timed('find', [root, '-type', 'f', '-printf', '%s %T@ %p\n']);
  const walk = walkFiles(root);
  const names = namesByInode(walk);
  await findDuplicates(walk, { threads });

  const rows: Row[] = [];
  const row = (name: string, command: string): Row => {
    const r: Row = { name, command, times: [], median: 0, cpu: [] };
    rows.push(r);
    return r;
  };
  const findRow = row('find -printf (listing only)', `find ${root} -type f -printf '%s %T@ %p\\n'`);
  const ours = row('ours (in process)', `walkFiles + findDuplicates({ threads: ${threads} })`);
  const oursHashing = row('ours: hashing phase only', `findDuplicates({ threads: ${threads} }) on the walked list`);
  const oursProcess = row('ours (new process)', `node ${path.join(here, 'duplicates.bench.js')} --child ROOT`);
  const oursCached = row('ours (cached re-run)', 'walkFiles + findDuplicates({ cache }) after one run');
  const jd = tools.jdupes ? row('jdupes', `jdupes -r -q ${root}`) : undefined;
  const fd = tools.fdupes ? row('fdupes', `fdupes -r -q -n ${root}`) : undefined;
  const rm = tools.rmlint ? row('rmlint', `rmlint --without-fiemap -T df -o fdupes:${rmlintOut} ${root}`) : undefined;

  let reference: string[][] = [];
  let oursResult: DuplicateSearchResult | undefined;
  let walkMs = 0;
  let findMs = 0;
  const cache = new InMemoryHashCache();
  await findDuplicates(walkFiles(root), { threads, cache });
  const outputs: Record<string, string[][]> = {};

  for (let round = 0; round < runs; round++) {
    const listing = timed('find', [root, '-type', 'f', '-printf', '%s %T@ %p\n']);
    findRow.times.push(listing.seconds);
    if (listing.cpu !== undefined) findRow.cpu.push(listing.cpu);

    const c0 = process.cpuUsage();
    let t = performance.now();
    const listed = walkFiles(root);
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

    const proc = timed(process.execPath, [
      path.join(here, 'duplicates.bench.js'),
      '--child',
      root,
      '--threads',
      String(threads),
    ]);
    oursProcess.times.push(proc.seconds);
    if (proc.cpu !== undefined) oursProcess.cpu.push(proc.cpu);
    outputs[oursProcess.name] = normalizeGroups(JSON.parse(proc.stdout) as string[][], names);

    const c2 = process.cpuUsage();
    t = performance.now();
    await findDuplicates(walkFiles(root), { threads, cache });
    oursCached.times.push((performance.now() - t) / 1000);
    oursCached.cpu.push(cpuSince(c2));

    if (jd) {
      const r = timed('jdupes', ['-r', '-q', root]);
      jd.times.push(r.seconds);
      if (r.cpu !== undefined) jd.cpu.push(r.cpu);
      outputs[jd.name] = normalizeGroups(parseGroups(r.stdout), names);
    }
    if (fd) {
      const r = timed('fdupes', ['-r', '-q', '-n', root]);
      fd.times.push(r.seconds);
      if (r.cpu !== undefined) fd.cpu.push(r.cpu);
      outputs[fd.name] = normalizeGroups(parseGroups(r.stdout), names);
    }
    if (rm) {
      const r = timed('rmlint', ['--without-fiemap', '-T', 'df', '-o', `fdupes:${rmlintOut}`, root]);
      rm.times.push(r.seconds);
      if (r.cpu !== undefined) rm.cpu.push(r.cpu);
      outputs[rm.name] = normalizeGroups(parseGroups(readFileSync(rmlintOut, 'utf8')), names);
    }
  }
  rmSync(scratch, { recursive: true, force: true });

  const same = (a: string[][], b: string[][]): boolean => JSON.stringify(a) === JSON.stringify(b);
  for (const r of rows) {
    r.median = median(r.times);
    if (r.cpu.length > 0) r.cpuMedian = median(r.cpu);
    const groups = r === ours || r === oursHashing || r === oursCached ? reference : outputs[r.name];
    if (groups) {
      r.groups = groups.length;
      r.redundant = groups.reduce((n, g) => n + g.length - 1, 0);
      r.agrees = same(groups, reference);
    } else r.agrees = null;
  }
  const expected = manifest.expectedGroups;
  const jdTime = jd?.median;

  console.log(
    `\nmedian of ${runs} runs, warm cache, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}, node ${process.version}`,
  );
  console.log(
    `ours: walk ${(walkMs / runs / 1000).toFixed(3)} s + find ${(findMs / runs / 1000).toFixed(3)} s; ` +
      `${oursResult?.stats.candidates} candidates, ${oursResult?.stats.partialHashed} partial, ` +
      `${oursResult?.stats.fullHashed} full, ${((oursResult?.stats.bytesRead ?? 0) / 1e6).toFixed(0)} MB read, ` +
      `${oursResult?.stats.threads} threads; generator's groups ${same(reference, expected) ? 'match' : 'DIFFER'}`,
  );
  const jdCpu = jd?.cpuMedian;
  const header = [
    'tool',
    'median s',
    'min s',
    'vs jdupes',
    'cpu s',
    'cpu vs jdupes',
    'groups',
    'redundant',
    'same groups as ours',
  ];
  const lines = rows.map((r) => [
    r.name,
    r.median.toFixed(3),
    Math.min(...r.times).toFixed(3),
    jdTime ? `${(r.median / jdTime).toFixed(2)}x` : '-',
    r.cpuMedian === undefined ? '-' : r.cpuMedian.toFixed(2),
    r.cpuMedian !== undefined && jdCpu ? `${(r.cpuMedian / jdCpu).toFixed(2)}x` : '-',
    r.groups === undefined ? '-' : String(r.groups),
    r.redundant === undefined ? '-' : String(r.redundant),
    r.agrees === null || r.agrees === undefined ? '-' : r.agrees ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
  for (const r of rows) console.log(`  ${r.name}: ${r.command}`);

  const resultsDir = path.resolve(here, '../../bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const out = path.join(resultsDir, `duplicates-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    out,
    JSON.stringify(
      {
        scenario: 'duplicates',
        date: new Date().toISOString(),
        machine: {
          cpus: os.cpus().length,
          model: os.cpus()[0]?.model,
          memGB: Math.round(os.totalmem() / 2 ** 30),
          node: process.version,
        },
        tree: { options: treeOptions, stats: manifest.stats },
        runs,
        threads,
        ours: { walkSeconds: walkMs / runs / 1000, findSeconds: findMs / runs / 1000, stats: oursResult?.stats },
        rows,
        groupsMatchGenerator: same(reference, expected),
      },
      null,
      2,
    ),
  );
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
  if (!same(reference, expected) || (jd && !jd.agrees)) {
    console.error('groups differ: see the table');
    process.exitCode = 1;
  }
  if (flag('clean')) {
    rmSync(root, { recursive: true, force: true });
    rmSync(manifestPath, { force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
