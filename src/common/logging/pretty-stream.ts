import { Writable } from 'node:stream';

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const LEVEL_NUMBERS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
/** Fields every line has, or that the line's head already shows. */
const SHOWN = new Set(['level', 'time', 'msg', 'service', 'role', 'pid', 'context', 'hostname']);
/** Nest's module-by-module and route-by-route start-up lines: 80-odd in development, for debug level only. */
const START_UP_NOISE = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestFactory',
  'WebSocketsController',
]);

/**
 * One pino JSON line as a person reads it: `12:00:01 INFO  [Context] message key=value ...`.
 * Answers null for a line to leave out (start-up noise below debug).
 */
export function prettyLine(json: string, showStartUpNoise = false): string | null {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  // This service's pino writes level labels ("warn"); numbers are pino's default.
  const level = typeof entry.level === 'number' ? entry.level : (LEVEL_NUMBERS[String(entry.level)] ?? 30);
  const context = typeof entry.context === 'string' ? entry.context : undefined;
  if (!showStartUpNoise && level <= 30 && context && START_UP_NOISE.has(context)) return null;
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  const head = `${time} ${(LEVEL_NAMES[level] ?? String(level)).padEnd(5)}${context ? ` [${context}]` : ''}`;
  const fields = Object.entries(entry)
    .filter(([name]) => !SHOWN.has(name) && name !== 'stack' && name !== 'err')
    .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const stack = typeof entry.stack === 'string' ? entry.stack : (entry.err as { stack?: string } | undefined)?.stack;
  return [`${head} ${String(entry.msg ?? '')}`, ...fields].join(' ') + (stack ? `\n${stack}` : '');
}

/**
 * A pino destination that writes readable lines to `out` (development at a terminal, or
 * LOG_FORMAT=pretty). Production and tests keep pino's JSON lines.
 */
export function prettyStream(out: NodeJS.WritableStream, showStartUpNoise: boolean): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const pretty = line ? prettyLine(line, showStartUpNoise) : null;
        if (pretty !== null) out.write(`${pretty}\n`);
      }
      done();
    },
  });
}
