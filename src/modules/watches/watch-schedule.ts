import cronParser from 'cron-parser';

export const MAX_SCHEDULE_LENGTH = 100;

/**
 * Why `expression` is not a schedule a watch may have, or null: a five-field cron expression
 * (minute hour day-of-month month day-of-week, UTC). Six fields (seconds) are refused: a watch
 * runs at most once a minute. An expression that never fires (30 February) is refused too.
 */
export function scheduleProblem(expression: string): string | null {
  if (expression.length > MAX_SCHEDULE_LENGTH) return `schedule must be at most ${MAX_SCHEDULE_LENGTH} characters`;
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    return 'schedule must be a cron expression of five fields (minute hour day month weekday), at most once a minute';
  }
  try {
    cronParser.parseExpression(fields.join(' '), { utc: true }).next();
  } catch (error) {
    return `schedule is not a valid cron expression: ${error instanceof Error ? error.message : String(error)}`;
  }
  return null;
}
