import { parentPort } from 'node:worker_threads';
import { FileHasher, type HashBatch } from './file-hasher.js';

/**
 * Entry of a hash worker thread (compiled to dist/.../hash.worker.js; see hash-pool.ts). Hashes one
 * batch per message, synchronously, and answers with the batch's HashBatchResult. Cancellation is
 * the pool terminating the thread.
 */
const port = parentPort;
if (port) {
  const hasher = new FileHasher();
  port.on('message', (batch: HashBatch) => {
    port.postMessage(hasher.hashBatch(batch));
  });
}
