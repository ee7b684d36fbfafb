import base from './jest.config.js';

/**
 * `npm run test:timing`: the few e2e tests that assert a latency bound the issues ask for
 * (`/health/live` under 100 ms while 100 adversarial rules are matched; a 300,000-entry folder's
 * first page under 1 s). They run one file at a time, after the main suite, so that another test
 * file's work on the same cores is not what they measure.
 */
export default {
  ...base,
  roots: ['<rootDir>/test/timing'],
  testRegex: '\\.timing-spec\\.ts$',
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 300_000,
  maxWorkers: 1,
  collectCoverage: false,
};
