/**
 * One line that says why PostgreSQL refused the service at start-up and what to set, for the
 * failures a newcomer meets (a server that asks for a password, a user or database that does not
 * exist, nothing listening). Null for anything else, which keeps its full report. The password of
 * DATABASE_URL never appears in the line.
 */
export function explainDatabaseError(error: unknown, databaseUrl: string): string | null {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  const text = String(message ?? error);
  const where = describeTarget(databaseUrl);
  const example = 'DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/fileorganizer';
  if (
    code === '28P01' ||
    /password must be a string|no password was provided|password authentication failed/i.test(text)
  ) {
    const given = where.hasPassword
      ? 'rejected the password in DATABASE_URL'
      : 'asks for a password and DATABASE_URL has none';
    return (
      `Cannot start: PostgreSQL at ${where.server} ${given} (user "${where.user}"). ` +
      `Set ${example} with that user's password, or allow trust authentication for "${where.user}" from this host in pg_hba.conf.`
    );
  }
  if (code === '28000' || code === '3D000') {
    return (
      `Cannot start: PostgreSQL at ${where.server} refused user "${where.user}": ${oneLine(text)}. ` +
      `Set ${example} to a user that exists and may create databases.`
    );
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT') {
    return (
      `Cannot start: no PostgreSQL answers at ${where.server} (${code}). ` +
      `Start PostgreSQL there, or set ${example} to where it runs.`
    );
  }
  return null;
}

function describeTarget(databaseUrl: string): { server: string; user: string; hasPassword: boolean } {
  try {
    const url = new URL(databaseUrl);
    return {
      server: `${url.hostname || 'localhost'}:${url.port || '5432'}`,
      user: decodeURIComponent(url.username) || 'postgres',
      hasPassword: url.password !== '',
    };
  } catch {
    return { server: 'DATABASE_URL', user: '?', hasPassword: false };
  }
}

/** Server messages are one line, but nothing here may split the line or carry a control character. */
function oneLine(text: string): string {
  return text.replace(/\p{Cc}+/gu, ' ').slice(0, 200);
}
