import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ConfigError, loadDatabaseUrl } from '../config/app-config.js';
import { buildDataSourceOptions } from '../database/data-source-options.js';
import { normalizeEmail } from '../modules/users/users.service.js';

/**
 * Gives an existing account the admin role: `npm run make-admin -- ada@example.com`.
 * The account signs up through the API first; this only changes its role.
 */
async function main(): Promise<number> {
  const email = process.argv[2];
  if (!email) {
    process.stderr.write('usage: npm run make-admin -- <email>\n');
    return 2;
  }
  // DATABASE_URL only: promoting an account on a production server needs no JWT_SECRET.
  const dataSource = await new DataSource(buildDataSourceOptions(loadDatabaseUrl())).initialize();
  try {
    const rows: unknown[] = await dataSource.query(
      `UPDATE users SET role = 'admin', updated_at = now() WHERE email = $1 RETURNING id`,
      [normalizeEmail(email)],
    );
    const updated = (rows as [unknown[], number])[1] ?? 0;
    if (!updated) {
      process.stderr.write(`no account with email ${email}; sign up first\n`);
      return 1;
    }
    process.stdout.write(`${email} is now an admin\n`);
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
