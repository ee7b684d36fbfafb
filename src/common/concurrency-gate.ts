import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * At most `concurrency` tasks run at once; up to `queueSize` more wait, first come first served.
 * Beyond that a task is refused at once with 503 and a Retry-After estimated from how long tasks
 * take, so a burst costs bounded memory and bounded wait instead of an unbounded queue.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** Moving average of one task's duration, for Retry-After. */
  private averageMs = 100;

  constructor(
    private readonly concurrency: number,
    private readonly queueSize: number,
    private readonly busyMessage: string,
  ) {}

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueSize) throw this.busy();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    // The slot is ours here: either taken above, or handed over by the task that finished.
    const started = Date.now();
    try {
      return await task();
    } finally {
      this.averageMs = this.averageMs * 0.9 + (Date.now() - started) * 0.1;
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }

  private busy(): HttpException {
    const queuedWorkMs = ((this.waiting.length + this.running) * this.averageMs) / this.concurrency;
    const retryAfter = Math.max(1, Math.ceil(queuedWorkMs / 1000));
    return new HttpException(
      {
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: 'Service Unavailable',
        message: `${this.busyMessage}; retry in ${retryAfter} s`,
        retryAfter,
      },
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}
