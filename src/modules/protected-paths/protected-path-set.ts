import { isInside } from '../storage/user-path.js';

/** The reason a file's record gets when a protected path kept it where it is. */
export const PROTECTED_REASON = 'protected';

/**
 * A user's protected paths as the runners check them: a file is covered when it is one of them
 * or lies below one. Nothing under a protected path is moved, quarantined or deleted, and
 * nothing is moved into one.
 */
export class ProtectedPathSet {
  static readonly NONE = new ProtectedPathSet([]);

  readonly paths: readonly string[];

  constructor(paths: readonly string[]) {
    // One spelling for both sides: a decomposed "café" is the same name as a precomposed one.
    this.paths = paths.map((protectedPath) => protectedPath.normalize('NFC'));
  }

  get isEmpty(): boolean {
    return this.paths.length === 0;
  }

  /** True when `relativePath` is a protected path or lies below one (null: never). */
  covers(relativePath: string | null | undefined): boolean {
    if (relativePath === null || relativePath === undefined || this.paths.length === 0) return false;
    const candidate = relativePath.normalize('NFC');
    return this.paths.some((protectedPath) => isInside(candidate, protectedPath));
  }
}
