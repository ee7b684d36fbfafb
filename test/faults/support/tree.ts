import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The temp names a cross-device move copies into before it claims the final name. */
export const TEMP_MARK = '.fileorganizer-tmp-';

export interface Entry {
  kind: 'file' | 'link';
  /** sha256 of a file; the target of a link. */
  sha: string;
  size: number;
  /** Modification time in nanoseconds, as a decimal string. */
  mtimeNs: string;
  ino: string;
}

/** Every regular file and symbolic link below `root` (links never followed), quarantine included. */
export function snapshot(root: string): Map<string, Entry> {
  const result = new Map<string, Entry>();
  const visit = (folder: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const absolute = path.join(folder, entry.name);
      const relative = path.relative(root, absolute).split(path.sep).join('/');
      const stat = fs.lstatSync(absolute, { bigint: true });
      if (entry.isSymbolicLink()) {
        result.set(relative, {
          kind: 'link',
          sha: fs.readlinkSync(absolute),
          size: 0,
          mtimeNs: '0',
          ino: String(stat.ino),
        });
      } else if (entry.isDirectory()) {
        visit(absolute);
      } else if (entry.isFile()) {
        result.set(relative, {
          kind: 'file',
          sha: createHash('sha256').update(fs.readFileSync(absolute)).digest('hex'),
          size: Number(stat.size),
          mtimeNs: String(stat.mtimeNs),
          ino: String(stat.ino),
        });
      }
    }
  };
  if (fs.existsSync(root)) visit(root);
  return result;
}

/** The multiset of (sha256, size) of the regular files: what must never change, wherever files go. */
export function contentMultiset(tree: Map<string, Entry>): string[] {
  return [...tree.values()]
    .filter((entry) => entry.kind === 'file')
    .map((entry) => `${entry.sha}:${entry.size}`)
    .sort();
}

/** One entry per inode (the first name met): what the bytes on disk are, whatever the number of names. */
export function uniqueInodes(tree: Map<string, Entry>): Map<string, Entry> {
  const seen = new Set<string>();
  return new Map(
    [...tree].filter(([, entry]) => {
      if (entry.kind !== 'file' || seen.has(entry.ino)) return false;
      seen.add(entry.ino);
      return true;
    }),
  );
}

export function tempFiles(tree: Map<string, Entry>): string[] {
  return [...tree.keys()].filter((relative) => path.posix.basename(relative).startsWith(TEMP_MARK));
}

export function links(tree: Map<string, Entry>): Record<string, string> {
  return Object.fromEntries([...tree].filter(([, entry]) => entry.kind === 'link').map(([p, e]) => [p, e.sha]));
}

/**
 * path → "sha size mtime" for comparing two trees exactly; `mtimePrecisionNs` rounds mtimes down
 * (1000: to the microsecond, all that a copy across filesystems can keep through Node's utimes).
 */
export function exactView(tree: Map<string, Entry>, mtimePrecisionNs = 1): Record<string, string> {
  const view: Record<string, string> = {};
  for (const [relative, entry] of tree) {
    const mtime = BigInt(entry.mtimeNs) / BigInt(mtimePrecisionNs);
    view[relative] = `${entry.kind} ${entry.sha} ${entry.size} ${mtime}`;
  }
  return view;
}

const NFC = 'caf\u00e9.txt';
const NFD = 'cafe\u0301.txt';

/**
 * A tree with everything that makes moves hard, below `<root>/inbox`: 60 unique files in 6
 * folders, 20 duplicate groups (an original and two copies, one under the same name elsewhere),
 * NFC and NFD twins (two files whose names differ only in normalization) plus a copy of one
 * under a third folder, a pair of hard links, and symbolic links to a file, to a folder outside
 * the tree and to another user's folder. Files get the current time, nanoseconds included.
 */
export function buildTree(root: string, options: { otherUserRoot?: string } = {}): void {
  const write = (relative: string, content: string | Buffer) => {
    const absolute = path.join(root, relative);
    fs.mkdirSync(path.dirname(absolute), { recursive: true });
    fs.writeFileSync(absolute, content);
  };
  const exts = ['jpg', 'txt', 'mp3', 'zip', 'pdf', 'csv'];
  for (let i = 0; i < 60; i += 1) {
    write(`inbox/d${i % 6}/f${i}.${exts[i % exts.length]}`, `unique ${i} `.repeat(1 + (i % 17)));
  }
  for (let g = 0; g < 20; g += 1) {
    const content = `duplicate group ${g} `.repeat(5 + g);
    write(`inbox/d${g % 6}/dup${g}.txt`, content);
    write(`inbox/dups/a/dup${g}.txt`, content);
    write(`inbox/dups/b/copy of dup${g}.txt`, content);
  }
  write(`inbox/twins/${NFC}`, 'composed e-acute');
  write(`inbox/twins/${NFD}`, 'decomposed e + combining acute');
  write(`inbox/twins-copy/${NFC}`, 'decomposed e + combining acute');
  write('inbox/hard/orig.mp3', 'hard-linked audio '.repeat(40));
  fs.mkdirSync(path.join(root, 'inbox/hard/sub'), { recursive: true });
  fs.linkSync(path.join(root, 'inbox/hard/orig.mp3'), path.join(root, 'inbox/hard/sub/linked.mp3'));
  write('outside/keep.txt', 'not in the tree');
  fs.mkdirSync(path.join(root, 'inbox/links'), { recursive: true });
  fs.symlinkSync('../d0/f0.jpg', path.join(root, 'inbox/links/to-file.jpg'));
  fs.symlinkSync('../../outside', path.join(root, 'inbox/links/to-outside'));
  if (options.otherUserRoot) fs.symlinkSync(options.otherUserRoot, path.join(root, 'inbox/links/to-other-user'));
}

/** Mounts a tmpfs of `size` (e.g. "16m") at `folder` (created); answers a function that unmounts it. */
export function mountTmpfs(folder: string, size: string): () => void {
  fs.mkdirSync(folder, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', folder]);
  return () => {
    try {
      execFileSync('umount', ['-l', folder]);
    } catch {
      // already unmounted
    }
  };
}
