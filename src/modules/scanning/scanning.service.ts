import { Injectable } from '@nestjs/common';
import type { FolderEntry, UserStorage } from '../storage/storage-provider.js';
import { readFolder, scanEntries, scanFiles } from './scanner.js';
import type { ScannedFile, ScanOptions } from './scanner.js';

/**
 * The one place that walks a user's tree, on any backend (see scanner.ts for the rules). A Nest
 * provider for the runners and services; scanner.ts's functions are the same without Nest (bench).
 */
@Injectable()
export class ScanningService {
  /** The regular files below `root`, in batches (organize's planning). */
  files(storage: UserStorage, root: string, options: ScanOptions): AsyncIterable<ScannedFile[]> {
    return scanFiles(storage, root, options);
  }

  /**
   * Files and folders in `folder` (with `recursive`, below it, breadth first), up to `max` + 1 of
   * them: enough to tell there are more than `max` (listings that sort or filter all of them).
   */
  entries(storage: UserStorage, folder: string, options: { recursive: boolean; max: number }): Promise<FolderEntry[]> {
    return options.recursive ? scanEntries(storage, folder, options.max) : readFolder(storage, folder, options.max);
  }
}
