import { jest } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { JwtStrategy } from '../../src/modules/auth/jwt.strategy.js';
import { VerifiedTokens } from '../../src/modules/auth/verified-tokens.js';
import { LocalUserStorage } from '../../src/modules/storage/local-user-storage.js';
import { createOperation, userFolder, waitForOperation, writeTree } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

/**
 * The lighter request path (issue 16): POST /operations reuses a recent check's real path of the
 * user's folder but checks the folders themselves every time; a verified access token is not
 * verified again, but its expiry and its login are.
 */
describe('request path: reused folder resolution and verified tokens', () => {
  let t: TestApp;
  let alice: SignedUpUser;
  let bob: SignedUpUser;

  beforeAll(async () => {
    t = await createTestApp();
    alice = await signUp(t, 'alice');
    bob = await signUp(t, 'bob');
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const post = (user: SignedUpUser, body: Record<string, unknown>) =>
    t.http().post('/api/v1/operations').set('Authorization', `Bearer ${user.accessToken}`).send(body);

  it("never checks another user's folder: Bob's request for a folder only Alice has is refused", async () => {
    writeTree(userFolder(t, alice), { 'only-alice/a.txt': 'a' });
    // Alice's check is recent (her folder's real path is remembered)...
    await createOperation(t, alice, { type: 'organize', rootPath: 'only-alice', dryRun: true });
    // ...and Bob's request for the same relative path is checked in Bob's folder.
    const answer = await post(bob, { type: 'organize', rootPath: 'only-alice', dryRun: true }).expect(400);
    expect(JSON.stringify(answer.body.message)).toMatch(/does not exist/);
    await post(bob, { type: 'organize', rootPath: '../' + alice.id + '/only-alice' }).expect(400);
  });

  it('refuses a root swapped for a link right after a successful check (the folder is checked every time)', async () => {
    const root = userFolder(t, alice);
    writeTree(root, { 'swap/a.txt': 'a', 'elsewhere/b.txt': 'b' });
    await createOperation(t, alice, { type: 'organize', rootPath: 'swap', dryRun: true });
    fs.rmSync(path.join(root, 'swap'), { recursive: true });
    fs.symlinkSync('/etc', path.join(root, 'swap'));
    const toEtc = await post(alice, { type: 'organize', rootPath: 'swap', dryRun: true }).expect(400);
    expect(JSON.stringify(toEtc.body.message)).toMatch(/symbolic link/);
    fs.unlinkSync(path.join(root, 'swap'));
    fs.symlinkSync(path.join(root, 'elsewhere'), path.join(root, 'swap'));
    const inside = await post(alice, { type: 'organize', rootPath: 'swap', dryRun: true }).expect(400);
    expect(JSON.stringify(inside.body.message)).toMatch(/symbolic link/);
    // A destination swapped for a link is refused too.
    fs.symlinkSync('/tmp', path.join(root, 'dest-link'));
    await post(alice, { type: 'organize', rootPath: 'elsewhere', options: { destination: 'dest-link' } }).expect(400);
  });

  it("reuses the user folder's resolution within a user, not across users", async () => {
    const carol = await signUp(t, 'carol');
    writeTree(userFolder(t, carol), { 'one/a.txt': 'a', 'two/b.txt': 'b' });
    writeTree(userFolder(t, bob), { 'three/c.txt': 'c' });
    const reopen = jest.spyOn(LocalUserStorage, 'reopen');
    await createOperation(t, carol, { type: 'organize', rootPath: 'one', dryRun: true });
    // Carol's first check resolved her folder in full.
    expect(reopen).not.toHaveBeenCalled();
    await createOperation(t, carol, { type: 'organize', rootPath: 'two', dryRun: true });
    // Her second pinned it by its remembered real path (no mkdir -p, no realpath).
    expect(reopen).toHaveBeenCalledTimes(1);
    expect(reopen.mock.calls[0][0]).toBe(fs.realpathSync(userFolder(t, carol)));
    expect(reopen.mock.results[0].value).not.toBeNull();
    // Bob's check reuses only Bob's folder.
    await createOperation(t, bob, { type: 'organize', rootPath: 'three', dryRun: true });
    for (const call of reopen.mock.calls.slice(1)) expect(call[0]).toBe(fs.realpathSync(userFolder(t, bob)));
  });

  it('opens a user folder that vanished after a recent check in full (made again, no 500)', async () => {
    const dave = await signUp(t, 'dave');
    const root = userFolder(t, dave);
    writeTree(root, { 'x/a.txt': 'a' });
    await createOperation(t, dave, { type: 'organize', rootPath: 'x', dryRun: true });
    // Let the job finish before the folder goes, so no job runs in it.
    const listed = await t.http().get('/api/v1/operations').set('Authorization', `Bearer ${dave.accessToken}`);
    for (const item of listed.body.items as { id: string }[]) await waitForOperation(t, dave, item.id);
    fs.rmSync(root, { recursive: true });
    const missing = await post(dave, { type: 'organize', rootPath: 'x', dryRun: true }).expect(400);
    expect(JSON.stringify(missing.body.message)).toMatch(/does not exist/);
    // The full open made the user's folder again, as before.
    expect(fs.statSync(root).isDirectory()).toBe(true);
    // A link in the user folder's place is not pinned by the remembered path (O_NOFOLLOW refuses it).
    fs.rmSync(root, { recursive: true });
    fs.mkdirSync(path.join(path.dirname(root), `${dave.id}-real`));
    fs.symlinkSync(path.join(path.dirname(root), `${dave.id}-real`), root);
    expect(LocalUserStorage.reopen(root, undefined, 'dirfd')).toBeNull();
  });

  it('skips passport for a token it verified, and refuses a token whose signature or payload was altered', async () => {
    const erin = await signUp(t, 'erin');
    const me = (token: string) => t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`);
    const authenticate = jest.spyOn(JwtStrategy.prototype, 'authenticate');
    await me(erin.accessToken).expect(200);
    await me(erin.accessToken).expect(200);
    await me(erin.accessToken).expect(200);
    // Verified once (passport-jwt), then reused.
    expect(authenticate).toHaveBeenCalledTimes(1);
    const [header, payload, signature] = erin.accessToken.split('.');
    const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
    await me(`${header}.${payload}.${flipped}`).expect(401);
    // Someone else's claims under Erin's signature.
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: bob.id }),
    ).toString('base64url');
    await me(`${header}.${forged}.${signature}`).expect(401);
    expect(authenticate).toHaveBeenCalledTimes(3);
  });

  it('a verified token stops working at once on logout (its login is still checked every request)', async () => {
    const frank = await signUp(t, 'frank');
    const as = { Authorization: `Bearer ${frank.accessToken}` };
    await t.http().get('/api/v1/auth/me').set(as).expect(200);
    expect(t.app.get(VerifiedTokens).claimsOf(frank.accessToken)).toBeDefined();
    await t.http().post('/api/v1/auth/logout').set(as).send({ refreshToken: frank.refreshToken }).expect(204);
    await t.http().get('/api/v1/auth/me').set(as).expect(401);
  });
});

describe('VerifiedTokens', () => {
  it('forgets a token from the second its exp is reached, as jsonwebtoken does', () => {
    const tokens = new VerifiedTokens();
    tokens.remember('a.b.c', { sub: 'u', sid: 's', exp: 1000 });
    expect(tokens.claimsOf('a.b.c', 999_999)).toMatchObject({ sub: 'u' });
    expect(tokens.claimsOf('a.b.c', 1_000_000)).toBeUndefined();
    expect(tokens.claimsOf('a.b.c', 0)).toBeUndefined();
    expect(tokens.claimsOf('a.b.d', 0)).toBeUndefined();
  });
});
