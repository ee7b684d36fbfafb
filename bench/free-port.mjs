import net from 'node:net';

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, as the kernel hands out for port 0.
 * The benches start the service on ports chosen this way: a random pick from a fixed range met
 * this machine's own services (RabbitMQ on 5672, epmd on 4369, NATS on 4222) and failed at start-up.
 * @returns {Promise<number>}
 */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(undefined));
  });
  const address = server.address();
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}
