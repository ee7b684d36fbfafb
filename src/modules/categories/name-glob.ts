import { RE2JS } from 're2js';

/**
 * A rule's `namePattern`: a glob on the file name, compiled to an RE2 program, which matches in
 * time linear in the name whatever the pattern (no backtracking). The pattern language is the
 * common glob subset, checked when a rule is saved:
 *   `*` any run of characters, `?` one character, `[abc]` `[a-z]` `[!a-z]` `[^a-z]` one of a set,
 *   `{jpg,jpeg}` one of the alternatives (not nested), `\x` the character x, a leading `!` negates
 *   the whole pattern. Matching is case-insensitive and `*` also matches a leading dot.
 * Refused: extglobs (`+(` `@(` `!(` `*(` `?(`), nested braces, brace ranges, POSIX classes, more
 * than MAX_GLOB_WILDCARDS wildcards, more than MAX_GLOB_LENGTH characters.
 */
export const MAX_GLOB_LENGTH = 255;
/** `*` runs and `?`s per pattern: enough for real names, few enough to keep rules readable. */
export const MAX_GLOB_WILDCARDS = 8;
/** `{a,b,...}` alternatives per pattern, all groups together. */
export const MAX_GLOB_ALTERNATIVES = 32;

export class GlobError extends Error {}

export interface NameGlob {
  /** The RE2 program the glob compiled to (exposed for tests and for the linear-time argument). */
  readonly program: RE2JS;
  matches(fileName: string): boolean;
}

/** `\x{…}`: any code point written so that RE2 reads it as that literal character. */
function literal(codePoint: number): string {
  return `\\x{${codePoint.toString(16)}}`;
}

/** Translates a glob into an anchored RE2 expression; throws GlobError with the reason. */
export function globToRe2(pattern: string): { source: string; negated: boolean } {
  if (pattern.length === 0) throw new GlobError('namePattern must not be empty');
  if (pattern.length > MAX_GLOB_LENGTH) {
    throw new GlobError(`namePattern must be at most ${MAX_GLOB_LENGTH} characters`);
  }
  const extglob = /(^|[^\\])([+@!*?])\(/.exec(pattern);
  if (extglob) {
    throw new GlobError(
      `namePattern must not use extglobs such as ${extglob[2]}(…); write a literal parenthesis as \\(`,
    );
  }
  const chars = Array.from(pattern);
  let i = 0;
  const negated = chars[0] === '!';
  if (negated) i = 1;
  let out = '';
  let wildcards = 0;
  let alternatives = 0;
  let inBraces = false;
  while (i < chars.length) {
    const c = chars[i];
    if (c === '\\') {
      if (i + 1 >= chars.length) throw new GlobError('namePattern is not a valid glob: it ends with a lone \\');
      out += literal(chars[i + 1].codePointAt(0) as number);
      i += 2;
    } else if (c === '*') {
      while (chars[i] === '*') i += 1;
      wildcards += 1;
      out += '[^/]*';
    } else if (c === '?') {
      wildcards += 1;
      out += '[^/]';
      i += 1;
    } else if (c === '[') {
      const [set, next] = bracket(chars, i);
      out += set;
      i = next;
    } else if (c === '{') {
      if (inBraces) throw new GlobError('namePattern must not nest braces ({a,{b,c}})');
      const close = chars.indexOf('}', i + 1);
      if (close < 0)
        throw new GlobError('namePattern is not a valid glob: a { is not closed; write a literal { as \\{');
      const body = chars.slice(i + 1, close).join('');
      if (body.includes('..')) throw new GlobError('namePattern must not use brace ranges ({1..9}); use [1-9]');
      if (!body.includes(',')) {
        throw new GlobError('namePattern is not a valid glob: {…} needs alternatives like {jpg,jpeg}');
      }
      inBraces = true;
      alternatives += 1;
      out += '(?:';
      i += 1;
    } else if (c === ',' && inBraces) {
      alternatives += 1;
      out += '|';
      i += 1;
    } else if (c === '}' && inBraces) {
      inBraces = false;
      out += ')';
      i += 1;
    } else {
      out += literal(c.codePointAt(0) as number);
      i += 1;
    }
  }
  if (inBraces) throw new GlobError('namePattern is not a valid glob: a { is not closed; write a literal { as \\{');
  if (wildcards > MAX_GLOB_WILDCARDS) {
    throw new GlobError(`namePattern must have at most ${MAX_GLOB_WILDCARDS} wildcards (* or ?); it has ${wildcards}`);
  }
  if (alternatives > MAX_GLOB_ALTERNATIVES) {
    throw new GlobError(`namePattern must have at most ${MAX_GLOB_ALTERNATIVES} {…} alternatives`);
  }
  return { source: `^(?:${out})$`, negated };
}

/** `[...]` starting at chars[start]: the RE2 class and the index after it. */
function bracket(chars: string[], start: number): [string, number] {
  let i = start + 1;
  let negate = false;
  if (chars[i] === '!' || chars[i] === '^') {
    negate = true;
    i += 1;
  }
  const members: string[] = [];
  let first = true;
  const take = (): number => {
    if (chars[i] === '\\') i += 1;
    if (i >= chars.length)
      throw new GlobError('namePattern is not a valid glob: a [ is not closed; write a literal [ as \\[');
    const codePoint = chars[i].codePointAt(0) as number;
    i += 1;
    return codePoint;
  };
  for (;;) {
    if (i >= chars.length)
      throw new GlobError('namePattern is not a valid glob: a [ is not closed; write a literal [ as \\[');
    if (chars[i] === ']' && !first) break;
    if (chars[i] === '[' && chars[i + 1] === ':') {
      throw new GlobError('namePattern must not use POSIX classes like [[:alpha:]]; use ranges like [a-z]');
    }
    first = false;
    const low = take();
    if (chars[i] === '-' && i + 1 < chars.length && chars[i + 1] !== ']') {
      i += 1;
      const high = take();
      if (high < low) throw new GlobError('namePattern is not a valid glob: a range in [...] runs backwards');
      members.push(`${literal(low)}-${literal(high)}`);
    } else {
      members.push(literal(low));
    }
  }
  // A file name never holds "/": a negated set must not match one either (as picomatch).
  return [negate ? `[^/${members.join('')}]` : `[${members.join('')}]`, i + 1];
}

/** Why a glob is unusable (the 400's message), or null. */
export function globProblem(pattern: string): string | null {
  try {
    compileGlob(pattern);
    return null;
  } catch (error) {
    if (error instanceof GlobError) return error.message;
    return `namePattern is not a valid glob: ${(error as Error).message}`;
  }
}

/**
 * Compiled globs by pattern, least recently used first out. Compiling costs milliseconds (RE2's
 * case folding), and every job and every listing needs its user's rules: each pattern is compiled
 * once per process, not once per request.
 */
const compiled = new Map<string, NameGlob>();
const MAX_COMPILED = 5000;

/** Compiles a glob (throws GlobError when globProblem would name one). */
export function compileGlob(pattern: string): NameGlob {
  const known = compiled.get(pattern);
  if (known) {
    compiled.delete(pattern);
    compiled.set(pattern, known);
    return known;
  }
  const { source, negated } = globToRe2(pattern);
  const program = RE2JS.compile(source, RE2JS.CASE_INSENSITIVE | RE2JS.DOTALL);
  const glob: NameGlob = {
    program,
    // The expression is anchored (^…$, and $ is the end of the text in RE2): test() is a full
    // match, and runs on RE2's DFA, ~3x faster than matches() with fewer allocations.
    matches: negated ? (fileName) => !program.test(fileName) : (fileName) => program.test(fileName),
  };
  compiled.set(pattern, glob);
  if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  return glob;
}
