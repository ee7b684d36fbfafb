import base from './jest.config.js';

/**
 * `npm run test:faults`: the fault-injection suites (crashes, frozen workers, Redis and PostgreSQL
 * restarts, full and foreign filesystems, load). They start the built service as child processes,
 * mount tmpfs (root) and run their own Redis and PostgreSQL, so they run one file at a time.
 */
export default {
  ...base,
  roots: ['<rootDir>/test/faults'],
  testRegex: '\\.fault-spec\\.ts$',
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 600_000,
  maxWorkers: 1,
  // Coverage is the main suite's measure; these runs drive child processes.
  collectCoverage: false,
};
