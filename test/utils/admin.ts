import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { SignedUpUser, TestApp } from './test-app.js';
import { signUp } from './test-app.js';

/** Signs up a user and makes it an admin the way `npm run make-admin` does (role read per request). */
export async function signUpAdmin(t: TestApp, label = 'admin'): Promise<SignedUpUser> {
  const user = await signUp(t, label);
  const dataSource = t.app.get<DataSource>(getDataSourceToken());
  await dataSource.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [user.id]);
  return user;
}
