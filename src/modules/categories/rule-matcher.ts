import { extensionOf } from './built-in-categories.js';
import type { CategorizableFile, CategoryRuleMatcher } from './categorizer.js';
import type { CategoryRule } from './category-rule.entity.js';
import { compileGlob } from './name-glob.js';

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

function mimeMatches(patterns: string[], mime: string): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith('/*') ? mime.startsWith(pattern.slice(0, -1)) : pattern === mime,
  );
}

/** A stored rule as the categorizer evaluates it: every criterion the rule sets must hold. */
export function toRuleMatcher(rule: CategoryRule): CategoryRuleMatcher {
  const nameMatches = nameMatcher(rule.namePattern);
  const extensions = new Set(rule.extensions.map((extension) => extension.toLowerCase()));
  const withoutContent = (file: Pick<CategorizableFile, 'fileName' | 'size'>): boolean => {
    if (extensions.size > 0 && !extensions.has(extensionOf(file.fileName))) return false;
    if (rule.minSize !== null && file.size < rule.minSize) return false;
    if (rule.maxSize !== null && file.size > rule.maxSize) return false;
    if (nameMatches && !nameMatches(file.fileName)) return false;
    return true;
  };
  return {
    id: rule.id,
    name: rule.name,
    template: rule.template,
    matchesWithoutContent(file: Pick<CategorizableFile, 'fileName' | 'size'>): boolean | undefined {
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
