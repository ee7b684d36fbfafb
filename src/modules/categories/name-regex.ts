import { RE2JS } from 're2js';

/**
 * A rule's `nameRegex`: a regular expression on the file name in RE2 syntax, searched (not
 * anchored: write `^…$` for a whole-name match) in time linear in the name whatever the pattern.
 * RE2 has no backreferences and no lookaround, and refuses repeat counts over 1000 (nested ones
 * too): such patterns are refused when the rule is saved, with RE2's reason. Named groups
 * (`(?P<year>\d{4})` or `(?<year>\d{4})`) are the rule template's `{match.<group>}` placeholders.
 */
export const MAX_REGEX_LENGTH = 255;
/** Named groups per pattern: each is a placeholder, and a template has at most 512 bytes anyway. */
export const MAX_REGEX_NAMED_GROUPS = 16;
/** A group name a template can spell: `{match.<name>}`. */
const GROUP_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

export class RegexError extends Error {}

export interface NameRegex {
  /** The named groups, in the pattern's order. */
  readonly groups: readonly string[];
  matches(fileName: string): boolean;
  /** The named groups' text when the name matches ('' for a group that took no part), else null. */
  exec(fileName: string): Record<string, string> | null;
}

function compileRegexUncached(pattern: string): NameRegex {
  if (pattern.length === 0) throw new RegexError('nameRegex must not be empty');
  if (pattern.length > MAX_REGEX_LENGTH) {
    throw new RegexError(`nameRegex must be at most ${MAX_REGEX_LENGTH} characters`);
  }
  if (pattern.includes('\0')) throw new RegexError('nameRegex must not contain a NUL byte');
  let program: RE2JS;
  try {
    program = RE2JS.compile(pattern);
  } catch (error) {
    // RE2's own message names the construct ("invalid or unsupported Perl syntax: `(?=`").
    throw new RegexError(`nameRegex is not a valid RE2 expression: ${(error as Error).message}`);
  }
  const groups = Object.keys(program.namedGroups());
  if (groups.length > MAX_REGEX_NAMED_GROUPS) {
    throw new RegexError(`nameRegex must have at most ${MAX_REGEX_NAMED_GROUPS} named groups`);
  }
  const badName = groups.find((group) => !GROUP_NAME.test(group));
  if (badName !== undefined) {
    throw new RegexError(
      `nameRegex group name ${JSON.stringify(badName)} must be a letter then up to 31 letters, digits or _`,
    );
  }
  return {
    groups,
    matches: (fileName) => program.matcher(fileName).find(),
    exec(fileName) {
      const matcher = program.matcher(fileName);
      if (!matcher.find()) return null;
      return Object.fromEntries(groups.map((group) => [group, matcher.group(group) ?? '']));
    },
  };
}

/** Compiled patterns by source, least recently used first out (as compileGlob). */
const compiled = new Map<string, NameRegex>();
const MAX_COMPILED = 5000;

/** Compiles a name regex (throws RegexError with the reason regexProblem gives). */
export function compileNameRegex(pattern: string): NameRegex {
  const known = compiled.get(pattern);
  if (known) {
    compiled.delete(pattern);
    compiled.set(pattern, known);
    return known;
  }
  const regex = compileRegexUncached(pattern);
  compiled.set(pattern, regex);
  if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  return regex;
}

/** Why a name regex is unusable (the 400's message), or null. */
export function regexProblem(pattern: string): string | null {
  try {
    compileNameRegex(pattern);
    return null;
  } catch (error) {
    if (error instanceof RegexError) return error.message;
    return `nameRegex is not usable: ${(error as Error).message}`;
  }
}
