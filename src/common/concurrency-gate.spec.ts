import { HttpException } from '@nestjs/common';
import { ConcurrencyGate } from './concurrency-gate.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('ConcurrencyGate', () => {
  it('runs at most `concurrency` tasks, queues `queueSize` more and refuses the rest with 503 + retryAfter', async () => {
    const gate = new ConcurrencyGate(2, 3, 'Busy');
    const release = deferred();
    let peak = 0;
    let active = 0;
    const task = async (): Promise<string> => {
      active += 1;
      peak = Math.max(peak, active);
      await release.promise;
      active -= 1;
      return 'done';
    };
    const outcomes = Array.from({ length: 8 }, () =>
      gate.run(task).then(
        (value) => value,
        (error: unknown) => error,
      ),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(gate.stats).toEqual({ running: 2, waiting: 3 });
    release.resolve();
    const results = await Promise.all(outcomes);
    expect(results.filter((result) => result === 'done')).toHaveLength(5);
    const refused = results.filter((result): result is HttpException => result instanceof HttpException);
    expect(refused).toHaveLength(3);
    for (const error of refused) {
      expect(error.getStatus()).toBe(503);
      expect((error.getResponse() as { retryAfter: number }).retryAfter).toBeGreaterThanOrEqual(1);
    }
    expect(peak).toBe(2);
    expect(gate.stats).toEqual({ running: 0, waiting: 0 });
  });

  it('frees the slot when a task fails', async () => {
    const gate = new ConcurrencyGate(1, 0, 'Busy');
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(gate.run(() => Promise.resolve(1))).resolves.toBe(1);
    expect(gate.stats).toEqual({ running: 0, waiting: 0 });
  });
});
