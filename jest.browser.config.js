import base from './jest.config.js';

/** The console and Swagger UI in a real headless Chromium: `npm run test:browser` (needs Debian's chromium). */
export default {
  ...base,
  roots: ['<rootDir>/test'],
  testRegex: '\\.browser-spec\\.ts$',
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120_000,
  maxWorkers: 1,
  // Coverage is the main suite's measure; this run drives a browser.
  collectCoverage: false,
};
