import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { OperationJobsWorker } from '../../src/modules/operations/processors/operation-jobs.worker.js';
import { progressSequenceKey } from '../../src/modules/progress/progress-channels.js';
import { ProgressGateway } from '../../src/modules/progress/progress.gateway.js';
import { createOperation, userFolder, waitForOperation, writeTree } from '../utils/operations.js';
import { connectSocket, recordEvents, subscribe, terminalEvent, until } from '../utils/sockets.js';
import type { ProgressClient, ReceivedEvent } from '../utils/sockets.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

const COUNTERS = [
  'filesTotal',
  'filesScanned',
  'filesProcessed',
  'bytesScanned',
  'duplicatesFound',
  'reclaimableBytes',
  'spaceSavedBytes',
  'errors',
];

describe('live progress over Socket.IO', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let queue: Queue;
  const sockets: ProgressClient[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    queue = t.app.get<Queue>(getQueueToken('operations'));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t);
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i += 1)
      files[`tree/d${i % 9}/f${i}.${['jpg', 'txt', 'mp3', 'zip', 'csv'][i % 5]}`] = `c${i}`;
    writeTree(userFolder(t, user), files);
  });

  const auth = (who: SignedUpUser = user) => ({ Authorization: `Bearer ${who.accessToken}` });

  async function connect(authPayload: Record<string, string> = { token: user.accessToken }): Promise<ProgressClient> {
    const socket = await connectSocket(t.url, authPayload);
    sockets.push(socket);
    return socket;
  }

  /** Creates an operation that waits until `start` is called, so subscribers see every event from seq 1. */
  async function createHeld(body: Record<string, unknown>): Promise<{ id: string; start: () => Promise<void> }> {
    await queue.pause(true);
    const created = await createOperation(t, user, { type: 'organize', ...body });
    return { id: created.id, start: () => queue.resume(true) };
  }

  it('refuses a handshake without valid credentials (connect_error "unauthorized")', async () => {
    await expect(connectSocket(t.url, {})).rejects.toThrow('unauthorized');
    await expect(connectSocket(t.url, { token: 'not-a-jwt' })).rejects.toThrow('unauthorized');
    await expect(connectSocket(t.url, { token: `${user.accessToken}x` })).rejects.toThrow('unauthorized');
    await expect(connectSocket(t.url, { apiKey: 'fo_not-a-key' })).rejects.toThrow('unauthorized');
    await expect(connectSocket(t.url, { apiKey: 'something else' })).rejects.toThrow('unauthorized');
    // A revoked API key stops working for sockets too.
    const key = await t.http().post('/api/v1/auth/api-keys').set(auth()).send({ name: 'ws' }).expect(201);
    const socket = await connect({ apiKey: key.body.key });
    expect(socket.connected).toBe(true);
    await t.http().delete(`/api/v1/auth/api-keys/${key.body.id}`).set(auth()).expect(204);
    await expect(connectSocket(t.url, { apiKey: key.body.key })).rejects.toThrow('unauthorized');
  });

  it('subscribe answers the snapshot (equal to GET); events arrive in order with no seq gap; counters never go down; completed equals GET', async () => {
    const held = await createHeld({ rootPath: 'tree' });
    const socket = await connect();
    const events = recordEvents(socket);
    const ack = await subscribe(socket, held.id);
    const fetched = await t.http().get(`/api/v1/operations/${held.id}`).set(auth()).expect(200);
    expect(ack).toEqual({ ok: true, operation: fetched.body, seq: 0 });
    expect(ack.operation?.status).toBe('pending');
    await held.start();
    const end = await until(() => terminalEvent(events, held.id), 30_000, 'the terminal event');

    const seqs = events.map((e) => e.payload.seq);
    expect(seqs).toEqual(seqs.map((_, index) => index + 1));
    expect(events.every((e) => e.payload.operationId === held.id && typeof e.payload.at === 'string')).toBe(true);
    expect(events[0]).toMatchObject({ event: 'operation.status', payload: { status: 'running' } });
    expect(end).toBe(events[events.length - 1]);
    const withProgress = events.filter((e) => e.payload.progress) as (ReceivedEvent & {
      payload: { progress: Record<string, number> };
    })[];
    expect(withProgress.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < withProgress.length; i += 1) {
      for (const counter of COUNTERS) {
        expect(withProgress[i].payload.progress[counter]).toBeGreaterThanOrEqual(
          withProgress[i - 1].payload.progress[counter],
        );
      }
    }
    // A progress event at the end of each phase: the last one before a phase change carries the old
    // phase with the counters it ended with (those the next phase's first event starts from).
    const phases = withProgress.map((e) => e.payload.progress.phase);
    expect(phases).toEqual(expect.arrayContaining(['scanning', 'moving', 'finalizing', 'done']));
    for (let i = 1; i < withProgress.length; i += 1) {
      if (phases[i] === phases[i - 1]) continue;
      const { phase: _ended, ...endedWith } = withProgress[i - 1].payload.progress;
      const { phase: _next, ...nextStartsWith } = withProgress[i].payload.progress;
      expect(endedWith).toEqual(nextStartsWith);
    }

    const done = await t.http().get(`/api/v1/operations/${held.id}`).set(auth()).expect(200);
    expect(end.event).toBe('operation.completed');
    expect(end.payload).toEqual({
      operationId: held.id,
      status: done.body.status,
      progress: done.body.progress,
      at: expect.any(String),
      seq: events.length,
    });
    expect(done.body.status).toBe('completed');
  });

  it('a late subscriber gets the final snapshot in the ack and no further events', async () => {
    const created = await createOperation(t, user, { type: 'organize', rootPath: 'tree' });
    const done = await waitForOperation(t, user, created.id);
    const socket = await connect();
    const events = recordEvents(socket);
    const ack = await subscribe(socket, created.id);
    expect(ack.ok).toBe(true);
    expect(ack.operation).toEqual(done);
    expect(ack.seq).toBeGreaterThan(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events).toEqual([]);
  });

  it("another user's operation (and an unknown one) answers not found, and its events never arrive", async () => {
    const other = await signUp(t, 'other');
    const otherSocket = await connect({ token: other.accessToken });
    const otherEvents = recordEvents(otherSocket);
    const held = await createHeld({ rootPath: 'tree' });
    expect(await subscribe(otherSocket, held.id)).toEqual({ ok: false, error: 'not found' });
    expect(await subscribe(otherSocket, '00000000-0000-4000-8000-000000000000')).toEqual({
      ok: false,
      error: 'not found',
    });
    expect(await subscribe(otherSocket, 'not-a-uuid')).toEqual({ ok: false, error: 'operationId must be a UUID' });
    const ownerSocket = await connect();
    const ownerEvents = recordEvents(ownerSocket);
    await subscribe(ownerSocket, held.id);
    await held.start();
    await until(() => terminalEvent(ownerEvents, held.id), 30_000, 'the owner to see the end');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(otherEvents).toEqual([]);
  });

  it('unsubscribe stops the events', async () => {
    const held = await createHeld({ rootPath: 'tree' });
    const socket = await connect();
    const events = recordEvents(socket);
    await subscribe(socket, held.id);
    expect(await socket.emitWithAck('unsubscribe', { operationId: held.id })).toEqual({ ok: true });
    const watcher = await connect();
    const watched = recordEvents(watcher);
    await subscribe(watcher, held.id);
    await held.start();
    await until(() => terminalEvent(watched, held.id), 30_000, 'the end');
    expect(events).toEqual([]);
  });

  it('50 clients on one operation all get every event and the end', async () => {
    const held = await createHeld({ rootPath: 'tree' });
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect()));
    const recorded = clients.map((client) => recordEvents(client));
    const acks = await Promise.all(clients.map((client) => subscribe(client, held.id)));
    expect(acks.every((ack) => ack.ok)).toBe(true);
    await held.start();
    await until(() => recorded.every((events) => terminalEvent(events, held.id)), 30_000, 'all 50 to see the end');
    const reference = recorded[0].map((e) => e.payload.seq);
    expect(reference).toEqual(reference.map((_, index) => index + 1));
    for (const events of recorded) expect(events.map((e) => e.payload.seq)).toEqual(reference);
  });

  it('a room broadcast frames each event once for all its subscribers (no per-socket framing or deflate)', async () => {
    // The fan-out cost of an event with many subscribers: socket.io-adapter frames a broadcast once
    // (ws's Sender.frame) and hands the same buffer to every socket, but only while per-message
    // deflate is off; with it on, each socket compresses and frames the event again.
    // The ws that socket.io-adapter and engine.io load (one copy); Sender.frame is untyped.
    const sender = (WebSocket as unknown as { Sender: { frame: (data: Buffer, options: object) => Buffer[] } }).Sender;
    const frame = sender.frame;
    let counting = false;
    let frames = 0;
    sender.frame = (data, options) => {
      if (counting) frames += 1;
      return frame.call(sender, data, options);
    };
    try {
      const held = await createHeld({ rootPath: 'tree' });
      const clients = await Promise.all(Array.from({ length: 10 }, () => connect()));
      const recorded = clients.map((client) => recordEvents(client));
      const acks = await Promise.all(clients.map((client) => subscribe(client, held.id)));
      expect(acks.every((ack) => ack.ok)).toBe(true);
      // From here to the end the server sends only the operation's events (the first ping is 25 s away).
      counting = true;
      await held.start();
      await until(() => recorded.every((events) => terminalEvent(events, held.id)), 30_000, 'all 10 to see the end');
      counting = false;
      const events = recorded[0].length;
      expect(events).toBeGreaterThan(3);
      for (const received of recorded) expect(received).toHaveLength(events);
      expect(frames).toBe(events);
    } finally {
      sender.frame = frame;
    }
  });

  it('cancelling a pending operation sends operation.completed with status cancelled', async () => {
    const held = await createHeld({ rootPath: 'tree' });
    try {
      const socket = await connect();
      const events = recordEvents(socket);
      await subscribe(socket, held.id);
      await t.http().post(`/api/v1/operations/${held.id}/cancel`).set(auth()).expect(202);
      const end = await until(() => terminalEvent(events, held.id), 10_000, 'the cancelled event');
      const fetched = await t.http().get(`/api/v1/operations/${held.id}`).set(auth()).expect(200);
      expect(end).toMatchObject({
        event: 'operation.completed',
        payload: { status: 'cancelled', progress: fetched.body.progress, seq: 1 },
      });
    } finally {
      await held.start();
    }
  });

  it('a completed rollback sends operation.completed with status rolled_back for its parent', async () => {
    const created = await createOperation(t, user, { type: 'organize', rootPath: 'tree' });
    await waitForOperation(t, user, created.id);
    const socket = await connect();
    const events = recordEvents(socket);
    const ack = await subscribe(socket, created.id);
    const rollback = await t.http().post(`/api/v1/operations/${created.id}/rollback`).set(auth()).expect(202);
    const end = await until(
      () => events.find((e) => e.event === 'operation.completed'),
      30_000,
      'the rolled_back event',
    );
    const parent = await t.http().get(`/api/v1/operations/${created.id}`).set(auth()).expect(200);
    expect(parent.body.status).toBe('rolled_back');
    expect(end.payload).toMatchObject({
      operationId: created.id,
      status: 'rolled_back',
      progress: parent.body.progress,
    });
    expect(end.payload.seq).toBe((ack.seq ?? 0) + 1);
    await waitForOperation(t, user, rollback.body.id);
  });

  it('a job delivered again after its worker died between the final write and the terminal event announces the end', async () => {
    const created = await createOperation(t, user, { type: 'organize', rootPath: 'tree' });
    await waitForOperation(t, user, created.id);
    // What a crash right after the row said "completed" leaves behind: no terminal event numbered.
    const redis = new Redis(t.config.redisUrl);
    await redis.hdel(progressSequenceKey(t.config, created.id), 'terminal');
    redis.disconnect();
    const socket = await connect();
    const events = recordEvents(socket);
    const ack = await subscribe(socket, created.id);
    const processor = t.app.get(OperationJobsWorker);
    await processor.run(created.id);
    const end = await until(() => terminalEvent(events, created.id), 10_000, 'the re-announced end');
    expect(end.payload).toMatchObject({ status: 'completed', progress: ack.operation?.progress, seq: ack.seq! + 1 });
    // Announced once: a further delivery stays silent.
    await processor.run(created.id);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events).toHaveLength(1);
  });

  it('drops the sockets of a revoked login or a disabled user', async () => {
    const login = await t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
    const revoked = await connect({ token: login.body.accessToken });
    await t
      .http()
      .post('/api/v1/auth/logout')
      .set({ Authorization: `Bearer ${login.body.accessToken}` })
      .send({ refreshToken: login.body.refreshToken })
      .expect(204);
    const held = await createHeld({ rootPath: 'tree' });
    await held.start();
    const disconnected = new Promise((resolve) => revoked.once('disconnect', resolve));
    expect(await subscribe(revoked, held.id)).toEqual({ ok: false, error: 'unauthorized' });
    expect(await disconnected).toBe('io server disconnect');

    const stillFine = await connect();
    const disabled = await signUp(t, 'disabled');
    const disabledSocket = await connect({ token: disabled.accessToken });
    const gone = new Promise((resolve) => disabledSocket.once('disconnect', resolve));
    await t.app.get(DataSource).query('UPDATE users SET disabled_at = now() WHERE id = $1', [disabled.id]);
    // (Also drops the socket of the API key revoked in the first test.)
    expect(await t.app.get(ProgressGateway).recheckAll()).toBeGreaterThanOrEqual(1);
    expect(await gone).toBe('io server disconnect');
    expect(stillFine.connected).toBe(true);
    await waitForOperation(t, user, held.id);
  });

  it('rate-limits a flooding client and cuts it off; an oversized message closes the connection', async () => {
    const flooder = await connect();
    const unknown = { operationId: '00000000-0000-4000-8000-000000000000' };
    // Within the burst: every message is served.
    const served = await Promise.all(Array.from({ length: 10 }, () => flooder.emitWithAck('unsubscribe', unknown)));
    expect(served).toEqual(Array.from({ length: 10 }, () => ({ ok: true })));
    const closed = new Promise((resolve) => flooder.once('disconnect', resolve));
    const answers: { ok: boolean; error?: string }[] = [];
    for (let i = 0; i < 100; i += 1) {
      flooder.emit('unsubscribe', unknown, (answer: { ok: boolean }) => answers.push(answer));
    }
    expect(await closed).toBe('io server disconnect');
    expect(answers.filter((a) => a.error === 'rate limited').length).toBeGreaterThan(0);

    const big = await connect();
    const bigClosed = new Promise((resolve) => big.once('disconnect', resolve));
    big.emit('subscribe', { operationId: 'x'.repeat(64 * 1024) });
    expect(await bigClosed).toBe('transport close');
  });
});
