/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j|mj)s$': ['@swc/jest'] },
  // node-pg-migrate and @octokit/webhooks-methods (GitHub's signing library, tests only) ship ESM
  // only; let swc turn them into CommonJS for jest's module system.
  transformIgnorePatterns: ['/node_modules/(?!(node-pg-migrate|@octokit/webhooks-methods)/)'],
  // Its package exports offer only an `import` condition, which jest's CommonJS resolver skips.
  moduleNameMapper: {
    '^@octokit/webhooks-methods$': '<rootDir>/node_modules/@octokit/webhooks-methods/dist-node/index.js',
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // Fails any test file whose log lines contain a payload value it sent.
  setupFilesAfterEnv: ['<rootDir>/test/support/no-payload-in-logs.ts'],
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
