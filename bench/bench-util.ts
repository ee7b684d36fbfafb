import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { generateTree, type GeneratedTree, type TreeOptions } from './tree-generator.js';

/**
 * Helpers shared by the benchmark scenarios (bench/*.bench.ts, bench/run.ts): options, timing of
 * commands, tables, the machine's description, results files, the page cache and cached trees.
 */

/** The repository root, from dist-bench/bench/ (compiled) or bench/ (read by tsc only). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const resultsDir = path.join(repoRoot, 'bench', 'results');

/** `--name value` from argv, else the fallback. */
export function arg(name: string, fallback: string, argv: readonly string[] = process.argv): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}

/** `--name` is present. */
export const flag = (name: string, argv: readonly string[] = process.argv): boolean => argv.includes(`--${name}`);

/** A whole number option; throws on anything else, so a typo does not run a 1M-file bench. */
export function intArg(name: string, fallback: number, argv: readonly string[] = process.argv): number {
  const raw = arg(name, String(fallback), argv);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number, got ${raw}`);
  return value;
}

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const TIME = '/usr/bin/time';
const haveTime = existsSync(TIME);

export interface Timed {
  seconds: number;
  /** User + system CPU seconds of the command and its children, when /usr/bin/time is there. */
  cpu?: number;
  stdout: string;
}

/**
 * Runs a command and answers its wall time (and CPU time through /usr/bin/time). `stdout: 'null'`
 * sends its output to /dev/null as a shell's `> /dev/null` would, so nothing is buffered here and
 * the command pays no pipe; 'capture' collects it.
 */
export function timed(
  command: string,
  args: string[],
  stdout: 'capture' | 'null' = 'capture',
  env: NodeJS.ProcessEnv = process.env,
): Timed {
  const timeFile = path.join(os.tmpdir(), `fo-bench-time-${process.pid}.txt`);
  const [file, argv] = haveTime ? [TIME, ['-f', '%U %S', '-o', timeFile, command, ...args]] : [command, args];
  const devNull = stdout === 'null' ? openSync('/dev/null', 'w') : undefined;
  try {
    const start = performance.now();
    const run = spawnSync(file, argv, {
      encoding: 'utf8',
      maxBuffer: 1024 * 1024 * 1024,
      env,
      stdio: ['ignore', devNull ?? 'pipe', 'pipe'],
    });
    const seconds = (performance.now() - start) / 1000;
    if (run.error) throw run.error;
    if (run.status !== 0) throw new Error(`${command} exited with ${run.status}: ${run.stderr.slice(0, 500)}`);
    let cpu: number | undefined;
    if (haveTime) {
      const [user, sys] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
      cpu = user + sys;
    }
    return { seconds, cpu, stdout: run.stdout ?? '' };
  } finally {
    if (devNull !== undefined) closeSync(devNull);
    rmSync(timeFile, { force: true });
  }
}

/** CPU seconds of this process (every thread) since `from`. */
export function cpuSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

/** A Markdown table, columns padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string => `| ${cells.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(fmt)].join('\n');
}

export interface Machine {
  cpuModel: string | undefined;
  cores: number;
  memGiB: number;
  kernel: string;
  os: string;
  node: string;
  loadAverage: number[];
}

export function machine(): Machine {
  return {
    cpuModel: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    os: os.version(),
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Writes bench/results/<name>.json and answers its path relative to the repository. */
export function writeResult(name: string, data: unknown): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return path.relative(repoRoot, file);
}

/**
 * Empties the page, dentry and inode caches (`sync; echo 3 > /proc/sys/vm/drop_caches`) so the
 * next run reads the disk. Answers null when done, else why not (not root, a container that
 * mounts /proc/sys read-only...), which the scenario records instead of a cold figure.
 */
export function dropCaches(): string | null {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return null;
  } catch (error) {
    return `cannot write /proc/sys/vm/drop_caches: ${(error as Error).message}`;
  }
}

const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/**
 * Makes sure the peers are installed, from Debian's packages when missing (as root): apt-get update
 * once, then one install. Answers which ones are there afterwards.
 */
export function ensureTools(tools: readonly string[]): Record<string, boolean> {
  const missing = tools.filter((t) => !have(t));
  if (missing.length > 0 && process.getuid?.() === 0) {
    console.log(`installing ${missing.join(', ')} from Debian's packages (apt-get)...`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = (): number | null =>
      spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'ignore', env }).status;
    // Try without an update first: the package lists may be fresh already, and an update is slow.
    if (install() !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
      install();
    }
  }
  return Object.fromEntries(tools.map((t) => [t, have(t)]));
}

/** What a cached tree keeps beside it: enough to check a finder, not the whole file list. */
export interface TreeManifest {
  version: 2;
  options: TreeOptions;
  stats: GeneratedTree['stats'];
  expectedGroups: string[][];
  generateSeconds: number;
}

export interface PreparedTree extends TreeManifest {
  root: string;
  /** True when an existing tree with the same options was used. */
  reused: boolean;
}

/**
 * The tree for `options`, generated once under the OS temp folder (or `root`) and reused while the
 * options are the same: its manifest sits beside it (`<root>.manifest.json`, outside the tree).
 * The default folder names the file count, seed and content mode, so a sparse listing tree and a
 * full duplicates tree of the same size never overwrite each other.
 */
export function prepareTree(options: Omit<TreeOptions, 'root'> & { root?: string }): PreparedTree {
  const content = options.content ?? 'full';
  const root = path.resolve(options.root ?? defaultTreeRoot(options.files, options.seed ?? 1, content));
  const treeOptions: TreeOptions = { ...options, root, content };
  const manifestPath = treeManifestPath(root);
  if (existsSync(manifestPath) && existsSync(root)) {
    try {
      const saved = JSON.parse(readFileSync(manifestPath, 'utf8')) as Partial<TreeManifest>;
      if (saved.version === 2 && JSON.stringify(saved.options) === JSON.stringify(treeOptions)) {
        return { ...(saved as TreeManifest), root, reused: true };
      }
    } catch {
      // An unreadable manifest (a run killed while writing it): generate again.
    }
  }
  rmSync(manifestPath, { force: true });
  rmSync(root, { recursive: true, force: true });
  console.log(`generating ${options.files} files (${content}) under ${root} (seed ${options.seed ?? 1})...`);
  const t = performance.now();
  const tree = generateTree(treeOptions);
  // Written back before timing ends so that dirty pages are on disk and the first run is not
  // slowed by the write-back of the generation.
  spawnSync('sync');
  const generateSeconds = (performance.now() - t) / 1000;
  console.log(`generated in ${generateSeconds.toFixed(1)} s`);
  const manifest: TreeManifest = {
    version: 2,
    options: treeOptions,
    stats: tree.stats,
    expectedGroups: tree.expectedGroups,
    generateSeconds,
  };
  writeFileSync(manifestPath, JSON.stringify(manifest));
  return { ...manifest, root, reused: false };
}

/** Where a tree is cached unless `--root` says otherwise. */
export function defaultTreeRoot(files: number, seed: number, content: 'full' | 'sparse'): string {
  return path.join(os.tmpdir(), `${content === 'sparse' ? 'fo-bench-sparse' : 'fo-bench-dup'}-${files}-${seed}`);
}

export const treeManifestPath = (root: string): string => `${root}.manifest.json`;

/** Removes a cached tree and its manifest. */
export function removeTree(root: string): void {
  rmSync(root, { recursive: true, force: true });
  rmSync(treeManifestPath(root), { force: true });
}

export function describeTree(tree: PreparedTree): string {
  const s = tree.stats;
  const sparse = tree.options.content === 'sparse';
  return (
    `tree: ${s.files} files, ${(s.bytes / 1e9).toFixed(2)} GB${sparse ? ' apparent (sparse, no data on disk)' : ''}, ` +
    `${s.groups} groups, ${s.redundantCopies} redundant copies (${(s.reclaimableBytes / 1e6).toFixed(0)} MB), ` +
    `decoys ${JSON.stringify(s.decoys)}, ${s.emptyFiles} empty, ${s.hardLinks} hard links; ` +
    (tree.reused ? 'reused' : `generated in ${tree.generateSeconds.toFixed(1)} s`)
  );
}

/** The opening of a scenario's result JSON: what ran, when, on which machine and tree. */
export function resultHeader(scenario: string, startMachine: Machine, tree: PreparedTree): Record<string, unknown> {
  return {
    scenario,
    date: new Date().toISOString(),
    machine: startMachine,
    tree: {
      root: tree.root,
      options: tree.options,
      stats: tree.stats,
      reused: tree.reused,
      generateSeconds: tree.generateSeconds,
    },
  };
}
