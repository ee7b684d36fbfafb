// The subscribers of bench/socket-latency.mjs, in a worker thread: connects its share of the
// socket.io clients, subscribes them when told, records every event's latency and seq, and
// answers them once each of its clients saw the operation end.
import { parentPort, workerData } from 'node:worker_threads';
import { io } from 'socket.io-client';

const { ports, token, count, offset } = workerData;

function connect(port) {
  const socket = io(`http://127.0.0.1:${port}/operations`, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const sockets = [];
for (let batch = 0; batch < count; batch += 100) {
  const size = Math.min(100, count - batch);
  sockets.push(
    ...(await Promise.all(Array.from({ length: size }, (_, k) => connect(ports[(offset + batch + k) % ports.length])))),
  );
}
const received = [];
const seqs = sockets.map(() => []);
let ended = 0;
sockets.forEach((socket, index) => {
  socket.onAny((event, payload) => {
    received.push(Date.now() - Date.parse(payload.at));
    seqs[index].push(payload.seq);
    if (event === 'operation.completed' || event === 'operation.failed') {
      ended += 1;
      if (ended === sockets.length) parentPort.postMessage({ type: 'done', received, seqs });
    }
  });
});
parentPort.on('message', async (message) => {
  if (message.type === 'subscribe') {
    const acks = await Promise.all(
      sockets.map((socket) => socket.timeout(30_000).emitWithAck('subscribe', { operationId: message.operationId })),
    );
    parentPort.postMessage({ type: 'subscribed', failed: acks.find((ack) => !ack.ok) ?? null });
  } else if (message.type === 'close') {
    for (const socket of sockets) socket.close();
    parentPort.close();
  }
});
parentPort.postMessage({ type: 'connected' });
