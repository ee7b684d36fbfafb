import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

/** Nest's Logger (new Logger('Context').log(...)) written through pino, with the context as a field. */
export class AppLogger implements LoggerService {
  constructor(private readonly root: Logger) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    // Nest passes (message, stack?, context?).
    const [stack, context] = rest.length >= 2 ? rest : [undefined, rest[0]];
    const fields: Record<string, unknown> = {};
    if (typeof context === 'string') fields.context = context;
    if (typeof stack === 'string') fields.stack = stack;
    else if (rest.length === 1 && typeof rest[0] === 'string' && rest[0].includes('\n')) {
      fields.stack = rest[0];
      delete fields.context;
    }
    this.emit('error', message, fields);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(level: 'info' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, rest: unknown[]): void {
    const context = rest[rest.length - 1];
    this.emit(level, message, typeof context === 'string' ? { context } : {});
  }

  private emit(level: 'info' | 'warn' | 'error' | 'debug' | 'trace' | 'fatal', message: unknown, fields: object): void {
    if (message instanceof Error) this.root[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) this.root[level]({ ...fields, ...message });
    else this.root[level](fields, String(message));
  }
}
