import { scheduleProblem } from './watch-schedule.js';

describe('scheduleProblem', () => {
  it.each(['*/5 * * * *', '0 3 * * 1-5', '15 */2 1 * *'])('accepts %s', (expression) => {
    expect(scheduleProblem(expression)).toBeNull();
  });

  it.each([
    ['* * * * * *', 'five fields'],
    ['*/10 * * * * *', 'five fields'],
    ['every minute', 'five fields'],
    ['61 * * * *', 'not a valid cron'],
    ['0 0 30 2 *', 'not a valid cron'],
    ['x'.repeat(101), 'at most 100'],
    ['', 'five fields'],
  ])('refuses %j', (expression, reason) => {
    expect(scheduleProblem(expression)).toContain(reason);
  });
});
