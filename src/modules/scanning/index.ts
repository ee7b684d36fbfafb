export { isHidden, readFolder, scanEntries, scanFiles, specialFileReason } from './scanner.js';
export type { ScannedFile, ScanOptions, ScanProblem } from './scanner.js';
export { ScanningModule } from './scanning.module.js';
export { ScanningService } from './scanning.service.js';
