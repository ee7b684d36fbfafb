import { eventLoopSliceDue, yieldEventLoop } from '../../common/event-loop-slice.js';
import { categoryForExtension, categoryForMime, extensionOf, OTHER_CATEGORY } from './built-in-categories.js';
import { sniffMime } from './content-sniffer.js';

export interface Categorization {
  category: string;
  /** `extension`, `content`, or `rule:<id>` (API.md's matchedBy). */
  matchedBy: string;
  /** Overrides the operation's template for this file (user rules). */
  template?: string;
  /** A user rule with `exclude: true` matched: the file stays where it is. */
  exclude?: boolean;
  /** The named groups of the matching rule's nameRegex: `{match.<group>}` in its template. */
  match?: Record<string, string>;
}

/** What a user rule sees of a file. */
export interface CategorizableFile {
  fileName: string;
  size: number;
  /** Modification time; a rule with a date criterion matches no file without it. */
  mtimeMs?: number;
  /** Reads the first bytes, only when content sniffing or a MIME rule needs them. */
  readHead: () => Promise<Uint8Array>;
}

/** A user's own rule, evaluated before the built-ins (the Categories issue fills these in). */
export interface CategoryRuleMatcher {
  id: string;
  name: string;
  template?: string | null;
  /** Files this rule matches stay where they are (recorded skipped). */
  exclude?: boolean;
  /** The named groups of the rule's nameRegex for a file it matched, if it has one. */
  matchGroups?(fileName: string): Record<string, string> | undefined;
  matches(file: CategorizableFile, mime: () => Promise<string | undefined>): Promise<boolean>;
  /** The same answer when it needs no content (no MIME criterion, or another criterion already fails); undefined otherwise. */
  matchesWithoutContent?(file: Omit<CategorizableFile, 'readHead'>): boolean | undefined;
}

function ruleCategorization(rule: CategoryRuleMatcher, fileName: string): Categorization {
  const categorization: Categorization = {
    category: rule.name,
    matchedBy: `rule:${rule.id}`,
    template: rule.template ?? undefined,
  };
  if (rule.exclude) categorization.exclude = true;
  const match = rule.matchGroups?.(fileName);
  if (match) categorization.match = match;
  return categorization;
}

/**
 * The categorization of each built-in category by extension, made once: planning asks for one per
 * file. Frozen, since every file of that category shares it.
 */
const BY_EXTENSION_CATEGORIZATION = new Map<string, Categorization>();
function byExtension(category: string): Categorization {
  let categorization = BY_EXTENSION_CATEGORIZATION.get(category);
  if (!categorization) {
    categorization = Object.freeze({ category, matchedBy: 'extension' });
    BY_EXTENSION_CATEGORIZATION.set(category, categorization);
  }
  return categorization;
}

/** Assigns categories: user rules in priority order, then the extension table, then magic bytes. */
export class Categorizer {
  constructor(private readonly rules: CategoryRuleMatcher[] = []) {}

  /**
   * The categorization when the file's name and size decide it (the usual case: a known
   * extension and no rule that asks for content), without a promise; undefined when the content
   * must be read, and then categorize() gives the same answer it would have.
   */
  categorizeWithoutContent(file: Omit<CategorizableFile, 'readHead'>): Categorization | undefined {
    for (const rule of this.rules) {
      const matched = rule.matchesWithoutContent?.(file);
      if (matched === undefined) return undefined;
      if (matched) return ruleCategorization(rule, file.fileName);
    }
    const category = categoryForExtension(extensionOf(file.fileName));
    if (category) return byExtension(category);
    if (file.size > 0) return undefined;
    return byExtension(OTHER_CATEGORY);
  }

  async categorize(file: CategorizableFile): Promise<Categorization> {
    let sniffed: Promise<string | undefined> | undefined;
    const mime = () => (sniffed ??= file.readHead().then(sniffMime));
    for (const rule of this.rules) {
      // Many files against many rules (a listing) is CPU work: hand the event loop back now and then.
      if (eventLoopSliceDue()) await yieldEventLoop();
      if (await rule.matches(file, mime)) return ruleCategorization(rule, file.fileName);
    }
    const category = categoryForExtension(extensionOf(file.fileName));
    if (category) return byExtension(category);
    if (file.size > 0) {
      const byContent = await mime().then((found) => (found ? categoryForMime(found) : undefined));
      if (byContent) return { category: byContent, matchedBy: 'content' };
    }
    return byExtension(OTHER_CATEGORY);
  }
}
