import { extensionOf } from './built-in-categories.js';
import type { CategorizableFile, CategoryRuleMatcher } from './categorizer.js';
import type { CategoryRule } from './category-rule.entity.js';
import { compileGlob } from './name-glob.js';
import { compileNameRegex } from './name-regex.js';
import type { NameRegex } from './name-regex.js';

const DAY_MS = 24 * 3600 * 1000;

/**
 * The name test of a stored rule. A pattern saved before the glob rules were tightened (an
 * extglob, say) no longer compiles: that rule then matches no file (fail closed) rather than
 * running a pattern that could hang the process.
 */
function nameMatcher(pattern: string | null): ((fileName: string) => boolean) | null {
  if (!pattern) return null;
  try {
    return compileGlob(pattern).matches;
  } catch {
    return () => false;
  }
}

/** As nameMatcher: a stored pattern that no longer compiles matches no file. */
function regexOf(pattern: string | null): NameRegex | null {
  if (!pattern) return null;
  try {
    return compileNameRegex(pattern);
  } catch {
    return { groups: [], matches: () => false, exec: () => null };
  }
}

/** The mtime bounds of a rule as [from, before) in ms, or null when it has none. */
function mtimeWindow(rule: CategoryRule, now: number): { from: number; before: number } | null {
  const bounds = [rule.modifiedAfter, rule.modifiedBefore, rule.olderThanDays, rule.newerThanDays];
  if (bounds.every((bound) => bound === null || bound === undefined)) return null;
  let from = -Infinity;
  let before = Infinity;
  if (rule.modifiedAfter) from = Math.max(from, rule.modifiedAfter.getTime());
  if (rule.newerThanDays != null) from = Math.max(from, now - rule.newerThanDays * DAY_MS);
  if (rule.modifiedBefore) before = Math.min(before, rule.modifiedBefore.getTime());
  if (rule.olderThanDays != null) before = Math.min(before, now - rule.olderThanDays * DAY_MS + 1);
  return { from, before };
}

function mimeMatches(patterns: string[], mime: string): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith('/*') ? mime.startsWith(pattern.slice(0, -1)) : pattern === mime,
  );
}

/**
 * A stored rule as the categorizer evaluates it: every criterion the rule sets must hold. `now`
 * is what olderThanDays/newerThanDays count from (one instant for a whole plan).
 */
export function toRuleMatcher(rule: CategoryRule, now = Date.now()): CategoryRuleMatcher {
  const nameMatches = nameMatcher(rule.namePattern);
  const regex = regexOf(rule.nameRegex);
  const window = mtimeWindow(rule, now);
  const extensions = new Set(rule.extensions.map((extension) => extension.toLowerCase()));
  const withoutContent = (file: Pick<CategorizableFile, 'fileName' | 'size' | 'mtimeMs'>): boolean => {
    if (extensions.size > 0 && !extensions.has(extensionOf(file.fileName))) return false;
    if (rule.minSize !== null && file.size < rule.minSize) return false;
    if (rule.maxSize !== null && file.size > rule.maxSize) return false;
    if (nameMatches && !nameMatches(file.fileName)) return false;
    if (window) {
      if (file.mtimeMs === undefined || file.mtimeMs < window.from || file.mtimeMs >= window.before) return false;
    }
    if (regex && !regex.matches(file.fileName)) return false;
    return true;
  };
  return {
    id: rule.id,
    name: rule.name,
    template: rule.template,
    exclude: rule.exclude,
    matchGroups: regex && regex.groups.length > 0 ? (fileName) => regex.exec(fileName) ?? undefined : undefined,
    matchesWithoutContent(file: Pick<CategorizableFile, 'fileName' | 'size' | 'mtimeMs'>): boolean | undefined {
      if (!withoutContent(file)) return false;
      return rule.mimeTypes.length > 0 ? undefined : true;
    },
    async matches(file: CategorizableFile, mime: () => Promise<string | undefined>): Promise<boolean> {
      if (!withoutContent(file)) return false;
      if (rule.mimeTypes.length > 0) {
        const sniffed = await mime();
        if (!sniffed || !mimeMatches(rule.mimeTypes, sniffed)) return false;
      }
      return true;
    },
  };
}
