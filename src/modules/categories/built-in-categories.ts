/** API.md's built-in categories, matched on the extension (case-insensitive). */
export const BUILT_IN_CATEGORIES = {
  Images: [
    'jpg',
    'jpeg',
    'png',
    'gif',
    'bmp',
    'tif',
    'tiff',
    'webp',
    'heic',
    'heif',
    'svg',
    'ico',
    'raw',
    'cr2',
    'nef',
  ],
  Documents: ['pdf', 'doc', 'docx', 'odt', 'rtf', 'txt', 'md', 'tex', 'epub', 'pages'],
  Spreadsheets: ['xls', 'xlsx', 'ods', 'csv', 'tsv', 'numbers'],
  Presentations: ['ppt', 'pptx', 'odp', 'key'],
  Audio: ['mp3', 'wav', 'flac', 'aac', 'ogg', 'oga', 'm4a', 'opus', 'wma', 'aiff'],
  Videos: ['mp4', 'mkv', 'mov', 'avi', 'webm', 'm4v', 'wmv', 'flv', 'mpg', 'mpeg'],
  Archives: ['zip', 'tar', 'gz', 'tgz', 'bz2', 'xz', '7z', 'rar', 'zst'],
  Code: [
    'js',
    'ts',
    'jsx',
    'tsx',
    'py',
    'java',
    'c',
    'h',
    'cpp',
    'hpp',
    'go',
    'rs',
    'rb',
    'php',
    'html',
    'css',
    'json',
    'xml',
    'yml',
    'yaml',
    'sh',
    'sql',
  ],
} as const satisfies Record<string, readonly string[]>;

export type BuiltInCategory = keyof typeof BUILT_IN_CATEGORIES | 'Other';

export const OTHER_CATEGORY = 'Other';

const BY_EXTENSION = new Map<string, BuiltInCategory>();
for (const [category, extensions] of Object.entries(BUILT_IN_CATEGORIES)) {
  for (const extension of extensions) BY_EXTENSION.set(extension, category as BuiltInCategory);
}

/** The extension of a file name without the dot, lower-cased; '' when there is none. */
export function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  // ".bashrc" has no extension: a leading dot marks a hidden file.
  if (dot <= 0 || dot === fileName.length - 1) return '';
  return fileName.slice(dot + 1).toLowerCase();
}

export function categoryForExtension(extension: string): BuiltInCategory | undefined {
  return BY_EXTENSION.get(extension.toLowerCase());
}

const ARCHIVE_MIMES = new Set([
  'application/zip',
  'application/gzip',
  'application/x-tar',
  'application/x-7z-compressed',
  'application/x-rar-compressed',
  'application/vnd.rar',
  'application/x-bzip2',
  'application/x-xz',
  'application/zstd',
  'application/x-zstd',
]);
const DOCUMENT_MIMES = new Set(['application/pdf', 'application/rtf', 'application/epub+zip', 'application/msword']);
const SPREADSHEET_MIMES = new Set([
  'application/vnd.ms-excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.oasis.opendocument.spreadsheet',
]);
const PRESENTATION_MIMES = new Set([
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.presentation',
]);

/** The built-in category of a sniffed MIME type, or undefined when none fits. */
export function categoryForMime(mime: string): BuiltInCategory | undefined {
  if (mime.startsWith('image/')) return 'Images';
  if (mime.startsWith('audio/')) return 'Audio';
  if (mime.startsWith('video/')) return 'Videos';
  if (ARCHIVE_MIMES.has(mime)) return 'Archives';
  if (DOCUMENT_MIMES.has(mime) || mime === 'application/vnd.openxmlformats-officedocument.wordprocessingml.document')
    return 'Documents';
  if (mime === 'application/vnd.oasis.opendocument.text') return 'Documents';
  if (SPREADSHEET_MIMES.has(mime)) return 'Spreadsheets';
  if (PRESENTATION_MIMES.has(mime)) return 'Presentations';
  return undefined;
}
