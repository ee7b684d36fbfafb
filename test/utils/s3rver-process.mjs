// Runs s3rver for the S3 e2e tests, as a child process of the test:
//   node --openssl-legacy-provider test/utils/s3rver-process.mjs <directory> <bucket>...
// s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers through
// its legacy provider, hence the flag (and a process of its own rather than the Jest worker).
// Prints {"port":N} once it listens on 127.0.0.1; exits when its stdin closes (the test ended or died).
import S3rver from 's3rver';

const [directory, ...buckets] = process.argv.slice(2);
if (!directory) {
  process.stderr.write('usage: s3rver-process.mjs <directory> <bucket>...\n');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);

const stop = () => {
  server.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
